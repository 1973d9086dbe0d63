/**
 * The microphone through PortAudio (naudiodon): the ONLY module that imports naudiodon. It is
 * loaded lazily, so a machine without a working PortAudio still reads files, stdin and pushed audio.
 *
 * PortAudio delivers buffers on its own thread; naudiodon hands them to this thread's event loop as
 * 'data' events, which only queue them: the actor drains the queue at once into the ring with a
 * non-blocking write (overruns counted there), so nothing here ever waits on the consumer.
 */
import { DeviceUnavailableError, UnknownDeviceError } from '../../errors.js';
import type { AudioDevice } from './capture.protocol.js';
import { decodePcm } from './pcm.js';
import type { OpenedSource, SourceChunk } from './source.js';

type Naudiodon = typeof import('naudiodon');
type IoStream = import('naudiodon').IoStreamRead;

let loaded: Promise<Naudiodon | Error> | null = null;

/** naudiodon, or the error that kept it from loading (missing build, no libasound…). */
export function loadNaudiodon(): Promise<Naudiodon | Error> {
  loaded ??= import('naudiodon').then(
    (m) => ((m as { default?: Naudiodon }).default ?? m) as Naudiodon,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  return loaded;
}

/** PortAudio buffers naudiodon may hold before blocking the device (~ a few seconds at most). */
const MAX_QUEUED_BUFFERS = 64;

/** How long closing the device may take before the actor moves on. */
const CLOSE_TIMEOUT_MS = 2000;

const NO_INPUT_HINT = 'use --input file.wav to read a file, or --stdin to read raw PCM from standard input';

async function requireNaudiodon(): Promise<Naudiodon> {
  const lib = await loadNaudiodon();
  if (lib instanceof Error) {
    throw new DeviceUnavailableError(`audio input is unavailable: naudiodon did not load (${lib.message}); ${NO_INPUT_HINT}`, {
      reason: lib.message,
    });
  }
  return lib;
}

/** Input devices only (PortAudio lists outputs too). */
export async function listDevices(): Promise<AudioDevice[]> {
  const lib = await requireNaudiodon();
  const apis = lib.getHostAPIs();
  // PortAudio reports "no default" as paNoDevice (-1), which naudiodon passes as an unsigned 32-bit int.
  const defaultApi = apis.HostAPIs[apis.defaultHostAPI];
  const defaultInput = defaultApi && defaultApi.defaultInput < 0x7fffffff ? defaultApi.defaultInput : -1;
  return lib
    .getDevices()
    .filter((d) => d.maxInputChannels > 0)
    .map((d) => ({
      id: d.id,
      name: d.name,
      maxInputChannels: d.maxInputChannels,
      defaultSampleRate: d.defaultSampleRate,
      hostApi: d.hostAPIName,
      isDefault: d.id === defaultInput,
    }));
}

/** By id, by case-insensitive part of the name (exact name first), or the default (null). */
export function pickDevice(devices: readonly AudioDevice[], wanted: number | string | null): AudioDevice {
  if (devices.length === 0) {
    throw new DeviceUnavailableError(`no audio input device found; ${NO_INPUT_HINT}`, {});
  }
  const names = devices.map((d) => `${d.id}: ${d.name}`).join(', ');
  if (wanted === null) return devices.find((d) => d.isDefault) ?? (devices[0] as AudioDevice);
  if (typeof wanted === 'number') {
    const byId = devices.find((d) => d.id === wanted);
    if (byId) return byId;
    throw new UnknownDeviceError(`no input device with id ${wanted}; available: ${names}`, { device: wanted });
  }
  const needle = wanted.toLowerCase();
  const exact = devices.find((d) => d.name.toLowerCase() === needle);
  if (exact) return exact;
  const partial = devices.filter((d) => d.name.toLowerCase().includes(needle));
  if (partial.length >= 1) return partial[0] as AudioDevice;
  throw new UnknownDeviceError(`no input device matches "${wanted}"; available: ${names}`, { device: wanted });
}

export interface MicrophoneOptions {
  readonly device: number | string | null;
  readonly sampleRate: number | null;
  readonly channels: number | null;
}

export async function openMicrophone(options: MicrophoneOptions): Promise<OpenedSource> {
  const lib = await requireNaudiodon();
  const device = pickDevice(await listDevices(), options.device);
  const sampleRate = options.sampleRate ?? Math.round(device.defaultSampleRate);
  // Mono unless asked: the engine downmixes anyway, and most devices mix down for free.
  const channels = Math.min(options.channels ?? 1, device.maxInputChannels);
  let io: IoStream;
  try {
    io = lib.AudioIO({
      inOptions: {
        deviceId: device.id,
        sampleRate,
        channelCount: channels,
        // 16-bit: what every input device delivers natively. (Asking for float made ALSA's `plug`
        // converter skip input from a `file` PCM in our tests; s16 came through sample-exact.)
        sampleFormat: lib.SampleFormat16Bit,
        closeOnError: false,
        // naudiodon blocks PortAudio's callback when its queue is full, and PortAudio then drops
        // input (paInputOverflow, only printed by naudiodon): a deeper queue absorbs event-loop stalls.
        maxQueue: MAX_QUEUED_BUFFERS,
      },
    });
  } catch (err) {
    throw new DeviceUnavailableError(`cannot open input device "${device.name}": ${(err as Error).message}`, {
      device: device.name,
      sampleRate,
      channels,
    }, { cause: err });
  }

  const queue: Float32Array[] = [];
  // Arrays handed out are valid until the next read(): then they are recycled for later callbacks,
  // so a long session does not pile one fresh array per callback into the old generation.
  const spare: Float32Array[] = [];
  let lent: Float32Array | null = null;
  const lend = (samples: Float32Array): Float32Array => {
    if (lent) spare.push(lent);
    lent = samples;
    return samples;
  };
  let waiting: ((chunk: Float32Array | null) => void) | null = null;
  let failed: ((err: Error) => void) | null = null;
  let failure: Error | null = null;
  let ended = false;

  io.on('data', (buf: Buffer) => {
    const frames = Math.floor(buf.length / (2 * channels));
    if (frames === 0) return;
    // One array per callback (recycled once read): it is queued until the actor takes it.
    const recycled = spare.pop();
    const samples = recycled?.length === frames * channels ? recycled : new Float32Array(frames * channels);
    decodePcm(buf, frames * channels, 's16le', samples);
    if (waiting) {
      const w = waiting;
      waiting = null;
      failed = null;
      w(samples);
    } else queue.push(samples);
  });
  io.on('error', (err: Error) => {
    failure = new DeviceUnavailableError(`input device "${device.name}" failed: ${err.message}`, { device: device.name });
    if (failed) failed(failure);
  });
  io.on('end', () => {
    ended = true;
    if (waiting) waiting(null);
  });
  io.start();

  return {
    description: `microphone "${device.name}" (${device.hostApi}, ${sampleRate} Hz, ${channels} ch)`,
    sampleRate,
    channels,
    live: true,
    realtime: false,
    read(): Promise<SourceChunk | null> {
      const next = queue.shift();
      if (next) return Promise.resolve({ samples: lend(next), layout: 'interleaved', frames: next.length / channels });
      if (failure) return Promise.reject(failure);
      if (ended) return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        waiting = (s) => resolve(s ? { samples: lend(s), layout: 'interleaved', frames: s.length / channels } : null);
        failed = reject;
      });
    },
    close(): Promise<void> {
      // quit can wait on a device that stopped delivering: never let it hold up `ended`.
      const quit = new Promise<void>((resolve) => void io.quit(() => resolve()));
      const bounded = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
      return Promise.race([quit, bounded]);
    },
  };
}
