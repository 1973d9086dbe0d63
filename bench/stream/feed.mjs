// Feeds a stream to engine.pushAudio in fixed chunks paced like a microphone: chunk k becomes due
// when its last sample would have been recorded, t0 + (k + 1) × chunk duration ÷ speed. The schedule
// is cumulative (each wake-up pushes every chunk already due, then sleeps until the next one), so
// timer lateness never accumulates into drift. The time each chunk's pushAudio resolved — its
// samples are in the engine's ring — is kept: that is when those samples "entered the engine".

/**
 * @param {{ pushAudio: (s: Float32Array, rate: number) => Promise<boolean> }} engine
 * @param {Float32Array} samples
 * @param {{ sampleRate: number, chunkSamples: number, speed: number, now?: () => number }} o
 * @returns {Promise<{ chunkSamples: number, pushedAtMs: Float64Array, startedAtMs: number,
 *                     maxLateMs: number, rejectedChunks: number }>}
 */
export async function feedPaced(engine, samples, o) {
  const now = o.now ?? (() => performance.now());
  const chunkMs = (o.chunkSamples * 1000) / o.sampleRate / o.speed;
  const chunks = Math.ceil(samples.length / o.chunkSamples);
  const pushedAtMs = new Float64Array(chunks).fill(Number.NaN);
  // The engine resolves pushes in call order, so the last one settling means every one has; keeping
  // only it (not one promise per chunk) keeps the benchmark's own memory out of the RSS trend.
  let last = Promise.resolve();
  let rejectedChunks = 0;
  let maxLateMs = 0;
  let next = 0;
  const startedAtMs = now();
  await new Promise((resolve) => {
    const tick = () => {
      const t = now();
      while (next < chunks && startedAtMs + (next + 1) * chunkMs <= t) {
        const k = next++;
        maxLateMs = Math.max(maxLateMs, t - (startedAtMs + (k + 1) * chunkMs));
        const chunk = samples.subarray(k * o.chunkSamples, Math.min(samples.length, (k + 1) * o.chunkSamples));
        // Not awaited: the engine chains writes in call order, and waiting here would delay the clock.
        last = engine.pushAudio(chunk, o.sampleRate).then((ok) => {
          pushedAtMs[k] = now();
          if (!ok) rejectedChunks++;
        });
      }
      if (next >= chunks) {
        resolve(undefined);
        return;
      }
      setTimeout(tick, Math.max(0, startedAtMs + (next + 1) * chunkMs - now()));
    };
    tick();
  });
  await last;
  return { chunkSamples: o.chunkSamples, pushedAtMs, startedAtMs, maxLateMs, rejectedChunks };
}

/**
 * When the sample at `position` (16 kHz index in the stream) entered the engine; null outside the stream.
 * @param {{ chunkSamples: number, pushedAtMs: Float64Array }} fed @param {number} position
 */
export function enteredAtMs(fed, position) {
  const k = Math.floor(position / fed.chunkSamples);
  if (k < 0 || k >= fed.pushedAtMs.length) return null;
  const t = fed.pushedAtMs[k];
  return t === undefined || Number.isNaN(t) ? null : t;
}
