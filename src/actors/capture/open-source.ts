/** The production SourceFactory: one case per CaptureSource kind. */
import type { CaptureSource } from './capture.protocol.js';
import { openMicrophone } from './microphone.js';
import type { OpenedSource } from './source.js';
import { openPushRing, openRawStdin, openWavFile } from './sources.js';

export async function openCaptureSource(source: CaptureSource): Promise<OpenedSource> {
  switch (source.kind) {
    case 'file':
      return openWavFile(source.path, source.realtime);
    case 'stdin':
      return openRawStdin({ sampleRate: source.sampleRate, channels: source.channels, format: source.format });
    case 'push':
      return openPushRing(source.ring, source.sampleRate, source.channels);
    case 'microphone':
      return openMicrophone({ device: source.device, sampleRate: source.sampleRate, channels: source.channels });
    default:
      return assertNever(source);
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown capture source ${JSON.stringify(value)}`);
}
