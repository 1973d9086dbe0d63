/** Lists the PortAudio input devices through a short-lived capture worker (only it loads naudiodon). */
import type { AudioDevice, CaptureCommand, CaptureMessage } from '../actors/capture/capture.protocol.js';
import { WorkerBridge } from './worker-bridge.js';

export async function listAudioDevices(): Promise<readonly AudioDevice[]> {
  const bridge = new WorkerBridge<CaptureCommand, CaptureMessage>({
    name: 'capture',
    url: new URL('../workers/capture.worker.js', import.meta.url),
    init: { type: 'listDevices' },
    isReady: (m) => m.type === 'devices',
  });
  let devices: readonly AudioDevice[] = [];
  bridge.subscribe((e) => {
    if (e.type === 'message' && e.message.type === 'devices') devices = e.message.devices;
  });
  try {
    await bridge.start();
  } finally {
    await bridge.close(2_000);
  }
  return devices;
}
