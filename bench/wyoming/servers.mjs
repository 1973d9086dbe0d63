// Starting, probing and stopping the Wyoming servers under test, one at a time (never two at once: the
// timings would share the cores). A server is ready when it answers a Wyoming `describe` with `info`, so the
// benchmark never starts against a socket that is open but still loading its model.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

// Servers still running when this process ends (an error, Ctrl-C, a timeout's SIGTERM) are killed with it,
// so no server is left holding a port and two cores.
const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Registers a child process to be killed if this process ends first (removed again when it exits). */
export function killOnExit(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

for (const [signal, code] of /** @type {const} */ ([['SIGINT', 130], ['SIGTERM', 143]])) {
  process.once(signal, () => process.exit(code));
}

/**
 * Splits the first Wyoming event off a buffer: a JSON header line, then `data_length` bytes of JSON data and
 * `payload_length` bytes of payload. Returns null while the event is incomplete.
 * @param {Buffer} buf
 * @returns {{ type: string, data: Record<string, unknown>, rest: Buffer } | null}
 */
export function splitEvent(buf) {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return null;
  const header = JSON.parse(buf.subarray(0, nl).toString('utf8'));
  if (typeof header?.type !== 'string') throw new Error(`Wyoming header without a type: ${buf.subarray(0, nl)}`);
  const dataLength = Number(header.data_length ?? 0);
  const payloadLength = Number(header.payload_length ?? 0);
  const end = nl + 1 + dataLength + payloadLength;
  if (buf.length < end) return null;
  const extra = dataLength > 0 ? JSON.parse(buf.subarray(nl + 1, nl + 1 + dataLength).toString('utf8')) : {};
  return { type: header.type, data: { ...(header.data ?? {}), ...extra }, rest: buf.subarray(end) };
}

/**
 * One `describe` → `info` exchange. Rejects on refusal, close, a non-info answer or `timeoutMs`.
 * @param {string} host @param {number} port @param {number} timeoutMs
 * @returns {Promise<Record<string, unknown>>} the info event's data
 */
export function describe(host, port, timeoutMs) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    let buf = Buffer.alloc(0);
    const done = (err, info) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(info);
    };
    const timer = setTimeout(() => done(new Error(`no info from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => socket.write(`${JSON.stringify({ type: 'describe' })}\n`));
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error(`${host}:${port} closed the connection before info`)));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        for (let ev = splitEvent(buf); ev !== null; ev = splitEvent(buf)) {
          buf = ev.rest;
          if (ev.type === 'info') return done(null, ev.data);
        }
      } catch (err) {
        done(err);
      }
    });
  });
}

/** A port the kernel says is free now (the server binds it a moment later; a clash fails loudly at startup). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Peak resident set of a live process in bytes (Linux VmHWM), or null where /proc is not there. */
function peakRssBytes(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/mu.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Spawns a server and resolves once it answers `describe`. `portFromLine` (for servers that pick their own
 * port) reads the port from a stderr line; otherwise `port` is known up front. Readiness is polled with
 * describe (connection refused until the model is loaded and the socket bound), bounded by `startTimeoutMs`,
 * and fails at once if the process exits.
 * @param {{ name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, host: string, port?: number,
 *           portFromLine?: (line: string) => number | null, startTimeoutMs: number, logLine: (line: string) => void }} spec
 */
export async function startServer(spec) {
  const started = performance.now();
  const child = spawn(spec.cmd, spec.args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  /** @type {string[]} */
  const tail = [];
  let exited = null;
  const exit = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve((exited = signal ?? code))),
  );
  child.on('error', (err) => {
    exited = err.message;
  });
  let port = spec.port ?? null;
  let onPort = () => {};
  const portKnown = port !== null ? Promise.resolve() : new Promise((resolve) => (onPort = resolve));
  const onLine = (line) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    spec.logLine(line);
    if (port === null && spec.portFromLine) {
      const p = spec.portFromLine(line);
      if (p !== null) {
        port = p;
        onPort();
      }
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (text) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) onLine(l);
    });
  }
  const fail = (why) => {
    child.kill('SIGKILL');
    return new Error(`${spec.name} ${why}; last output:\n${tail.join('\n')}`);
  };
  const deadline = started + spec.startTimeoutMs;
  const died = exit.then((code) => {
    throw fail(`exited with ${code} before it was ready`);
  });
  // The deadline timer must not outlive the start: firing later, it would SIGKILL a server in mid-benchmark.
  const portDeadline = rejectAt(deadline, () => fail('did not print its port'));
  try {
    await Promise.race([portKnown, died, portDeadline.promise]);
  } finally {
    portDeadline.cancel();
  }
  for (;;) {
    if (exited !== null) throw fail(`exited with ${exited} before it was ready`);
    try {
      const info = await Promise.race([describe(spec.host, /** @type {number} */ (port), 5000), died]);
      const readyMs = performance.now() - started;
      died.catch(() => {}); // from here on, an exit is the stop() path's business
      return { child, port: /** @type {number} */ (port), info, readyMs, exit, peakRssBytes: () => peakRssBytes(child.pid) };
    } catch (err) {
      if (performance.now() > deadline) throw fail(`did not answer describe within ${spec.startTimeoutMs} ms (${err.message})`);
      // Refused while loading: try again shortly (a readiness probe, not a timing assumption).
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** A promise rejected at `deadline` (with makeError(), called only then), and a cancel for its timer. */
function rejectAt(deadline, makeError) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(makeError()), Math.max(0, deadline - performance.now()));
    timer.unref();
  });
  promise.catch(() => {});
  return { promise, cancel: () => clearTimeout(timer) };
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. Resolves with the exit code or signal. */
export async function stopServer(server, graceMs = 10_000) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return server.exit;
  server.child.kill('SIGTERM');
  const t = setTimeout(() => server.child.kill('SIGKILL'), graceMs);
  const code = await server.exit;
  clearTimeout(t);
  return code;
}
