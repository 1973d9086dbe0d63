// Reads what `wyoming-bench stt -v` prints. wyoming-bench 2026.10.0 has no JSON or CSV output, so its text
// report is the interface: the per-measurement lines of -v (raw numbers), the per-server block (its own
// aggregates: min/mean/median/p95/max, pooled WER/CER, edits) and the "NOT SUPPORTED" notices. Lines of a
// known shape that do not parse are errors (a silently dropped number would skew the table); lines of no
// known shape (banners, the summary table, which repeats the block) are ignored. Pure: unit-tested in
// test/unit/bench/wyoming-report.test.ts. Types: parse.d.mts.

const MS_OR_NA = String.raw`(?:(\d+)ms|n/a)`;
const PCT_OR_NA = String.raw`(?:([\d.]+)%|n/a)`;
const MEASUREMENT = new RegExp(
  String.raw`^\[(\w+)\] r(\d+) (\S+) total=(\d+)ms ttft=${MS_OR_NA} WER=${PCT_OR_NA} audio=([\d.]+)s$`,
  'u',
);
const MEASUREMENT_FAIL = /^\[(\w+)\] r(\d+) (\S+) FAIL: (.*)$/u;
const WARMUP = /^\[warmup:(\w+)\] (\S+): (ok|FAIL \((.*)\))$/u;
const SERVER_HEADER = /^=== (.+) ===$/u;
const BLOCK_START = /^Server: (.+)$/u;
const BLOCK_MODE = /^\[(\w+)\] ok=(\d+) fail=(\d+)$/u;
const STAT_ROW = /^ {2}(Total \(ms\)|TTFT \(ms\)|RTF \(x\))\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$/u;
const AUDIO_ROW = /^ {2}Audio\s+mean=([\d.]+)s input$/u;
const ACCURACY_ROW = new RegExp(String.raw`^ {2}Accuracy\s+WER=${PCT_OR_NA}\s+CER=${PCT_OR_NA}\s+SAR=${PCT_OR_NA}$`, 'u');
const EDITS_ROW = /^\s+edits S=(\d+) I=(\d+) D=(\d+)\s+\(ref words=(\d+)\)$/u;
const NOT_SUPPORTED = /^\s+\[(\w+)\] NOT SUPPORTED by (\S+) \((.*)\); skipping \w+ mode$/u;
const SKIPPED = /^\s+\[(preflight|unreachable|programs)\] (.*)$/u;
const VERSION = /^wyoming-bench (\S+) \(stt\)$/u;
const ROUNDS = /^rounds:\s+(\d+)\s+warmup:\s+(\d+)$/u;
const CORPUS = /^corpus:\s+(\d+) sample\(s\), ([\d.]+)s audio$/u;

const STAT_KEYS = { 'Total (ms)': 'totalMs', 'TTFT (ms)': 'ttftMs', 'RTF (x)': 'rtf' };

const num = (s) => (s === undefined ? null : Number(s));
const pct = (s) => (s === undefined ? null : Number(s) / 100);

/** A min/mean/median/p95/max row; 'n/a' cells are null. */
function statCells(cells, line) {
  const values = cells.map((c) => {
    if (c === 'n/a') return null;
    const v = Number(c);
    if (!Number.isFinite(v)) throw new Error(`wyoming-bench: bad number '${c}' in: ${line}`);
    return v;
  });
  const [min, mean, median, p95, max] = values;
  return { min, mean, median, p95, max };
}

/**
 * @param {string} text the whole stdout of one `wyoming-bench stt -v` run
 * @returns {import('./parse.d.mts').BenchOutput}
 */
export function parseBenchOutput(text) {
  /** @type {import('./parse.d.mts').BenchOutput} */
  const out = { version: null, rounds: null, warmup: null, corpus: null, servers: [] };
  let server = null; // the server whose measurements are being printed (=== label ===)
  let block = null; // the server whose summary block is being printed (Server: label)
  let mode = null; // the mode of the block section being read
  const serverNamed = (label) => {
    let s = out.servers.find((x) => x.label === label);
    if (s === undefined) {
      s = { label, measurements: [], warmups: [], notSupported: {}, skipped: [], modes: {} };
      out.servers.push(s);
    }
    return s;
  };
  const current = (line) => {
    if (server === null) throw new Error(`wyoming-bench: measurement before any server header: ${line}`);
    return server;
  };

  for (const raw of text.split(/\r?\n/u)) {
    const line = raw.trimEnd();
    let m;
    if ((m = VERSION.exec(line))) out.version = m[1] ?? null;
    else if ((m = ROUNDS.exec(line))) [out.rounds, out.warmup] = [Number(m[1]), Number(m[2])];
    else if ((m = CORPUS.exec(line))) out.corpus = { samples: Number(m[1]), audioInS: Number(m[2]) };
    else if ((m = SERVER_HEADER.exec(line))) {
      server = serverNamed(/** @type {string} */ (m[1]));
      block = null;
      mode = null;
    } else if ((m = MEASUREMENT.exec(line))) {
      current(line).measurements.push({
        mode: /** @type {string} */ (m[1]),
        round: Number(m[2]),
        sampleId: /** @type {string} */ (m[3]),
        ok: true,
        totalMs: Number(m[4]),
        ttftMs: num(m[5]),
        wer: pct(m[6]),
        audioInS: Number(m[7]),
        error: null,
      });
    } else if ((m = MEASUREMENT_FAIL.exec(line))) {
      current(line).measurements.push({
        mode: /** @type {string} */ (m[1]),
        round: Number(m[2]),
        sampleId: /** @type {string} */ (m[3]),
        ok: false,
        totalMs: null,
        ttftMs: null,
        wer: null,
        audioInS: null,
        error: m[4] ?? '',
      });
    } else if ((m = WARMUP.exec(line))) {
      current(line).warmups.push({ mode: /** @type {string} */ (m[1]), sampleId: /** @type {string} */ (m[2]), ok: m[3] === 'ok', error: m[4] ?? null });
    } else if ((m = NOT_SUPPORTED.exec(line))) {
      current(line).notSupported[/** @type {string} */ (m[1])] = m[3] ?? '';
    } else if ((m = SKIPPED.exec(line))) {
      // [preflight] notices come before any server header; they name the host:port themselves.
      (server ?? serverNamed('(preflight)')).skipped.push(`${m[1]}: ${m[2]}`);
    } else if ((m = BLOCK_START.exec(line))) {
      block = serverNamed(/** @type {string} */ (m[1]));
      mode = null;
    } else if (block !== null && (m = BLOCK_MODE.exec(line))) {
      mode = /** @type {string} */ (m[1]);
      block.modes[mode] = {
        ok: Number(m[2]),
        fail: Number(m[3]),
        totalMs: null,
        ttftMs: null,
        rtf: null,
        audioMeanInS: null,
        wer: null,
        cer: null,
        sar: null,
        edits: null,
      };
    } else if (block !== null && mode !== null) {
      const summary = block.modes[mode];
      if ((m = STAT_ROW.exec(line))) {
        const key = STAT_KEYS[/** @type {keyof typeof STAT_KEYS} */ (m[1])];
        summary[key] = statCells(m.slice(2, 7), line);
      } else if ((m = AUDIO_ROW.exec(line))) summary.audioMeanInS = Number(m[1]);
      else if ((m = ACCURACY_ROW.exec(line))) [summary.wer, summary.cer, summary.sar] = [pct(m[1]), pct(m[2]), pct(m[3])];
      else if ((m = EDITS_ROW.exec(line))) {
        summary.edits = { sub: Number(m[1]), ins: Number(m[2]), del: Number(m[3]), refWords: Number(m[4]) };
      } else if (/^ {2}(Total|TTFT|RTF|Audio|Accuracy)\b/u.test(line) || /^\s+edits /u.test(line)) {
        throw new Error(`wyoming-bench: unreadable report line: ${line}`);
      } else if (line.startsWith('====') || line.startsWith('Summary')) {
        block = null;
        mode = null;
      }
    } else if (/^\[\w+\] r\d+ /u.test(line)) {
      throw new Error(`wyoming-bench: unreadable measurement line: ${line}`);
    }
  }
  return out;
}
