// Pure summary of the interleaved passes (run.mjs `--interleave N`): both servers up at once, and rounds of
// one wyoming-bench non-streaming pass per server, alternating which goes first (peer, ours; ours, peer; …).
// The passes that run.mjs makes one server after the other are minutes apart, and this machine's speed drifts
// by ±10 % over minutes, as much as the effect measured; a pair of passes ~1 minute apart shares the drift.
// No I/O; unit-tested in test/unit/bench/wyoming-report.test.ts. Types: interleave.d.mts.

/** Which server goes first in round `round` (0-based): the order alternates, so neither always runs warm. */
export function interleaveOrder(round) {
  return round % 2 === 0 ? ['peer', 'ours'] : ['ours', 'peer'];
}

const mean = (xs) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Means over every request of every round, the ratio ours ÷ peer, each round's own ratio, and the median of
 * the per-request ratios (same clip, same round). A failed request, or a round with a server missing, makes the
 * result unmet: a server that drops requests has not reached the target, and an unpaired round is no comparison.
 * @param {readonly { round: number, system: string, output: import('./parse.d.mts').ServerOutput | null }[]} passes
 * @param {number} target ratio to meet (ours ÷ peer ≤ target)
 * @returns {import('./interleave.d.mts').InterleavedSummary}
 */
export function summarizeInterleaved(passes, target) {
  const rounds = [...new Set(passes.map((p) => p.round))].sort((a, b) => a - b);
  const requests = (system, round) =>
    passes
      .filter((p) => p.system === system && (round === undefined || p.round === round))
      .flatMap((p) => (p.output === null ? [] : p.output.measurements.filter((m) => m.mode === 'non_streaming')));
  const okTotals = (ms) => ms.filter((m) => m.ok && m.totalMs !== null).map((m) => /** @type {number} */ (m.totalMs));
  const failed = { ours: requests('ours').filter((m) => !m.ok).length, peer: requests('peer').filter((m) => !m.ok).length };
  const roundRatios = [];
  const pairRatios = [];
  let paired = true;
  for (const round of rounds) {
    const ours = requests('ours', round);
    const peer = requests('peer', round);
    const o = mean(okTotals(ours));
    const p = mean(okTotals(peer));
    if (o === null || p === null || p <= 0) {
      paired = false;
      continue;
    }
    roundRatios.push(o / p);
    const peerBySample = new Map(peer.filter((m) => m.ok && m.totalMs !== null).map((m) => [m.sampleId, /** @type {number} */ (m.totalMs)]));
    for (const m of ours) {
      const q = peerBySample.get(m.sampleId);
      if (m.ok && m.totalMs !== null && q !== undefined && q > 0) pairRatios.push(m.totalMs / q);
    }
  }
  const oursMeanMs = mean(okTotals(requests('ours')));
  const peerMeanMs = mean(okTotals(requests('peer')));
  const ratio = oursMeanMs !== null && peerMeanMs !== null && peerMeanMs > 0 ? oursMeanMs / peerMeanMs : null;
  return {
    rounds: rounds.length,
    requests: { ours: okTotals(requests('ours')).length, peer: okTotals(requests('peer')).length },
    failed,
    oursMeanMs,
    peerMeanMs,
    ratio,
    roundRatios,
    pairRatioMedian: median(pairRatios),
    target,
    met: ratio !== null && paired && failed.ours === 0 && ratio <= target,
  };
}

/** The markdown lines of the interleaved comparison. @param {import('./interleave.d.mts').InterleavedSummary} s */
export function renderInterleaved(s) {
  const ms = (x) => (x === null ? '–' : `${Math.round(x)}`);
  const x2 = (x) => (x === null ? '–' : `${x.toFixed(2)} ×`);
  const verdict = s.ratio === null ? '' : s.met ? ' ✅' : ' ❌';
  const rounds = s.roundRatios.map((r) => r.toFixed(2)).join(', ');
  return [
    `Interleaved (both servers up, ${s.rounds} round(s) of one non-streaming pass each, the first server alternating):`,
    '',
    '| measure | wyoming-faster-whisper | ours | ours ÷ peer |',
    '| --- | ---: | ---: | ---: |',
    `| requests ok (failed) | ${s.requests.peer} (${s.failed.peer}) | ${s.requests.ours} (${s.failed.ours}) | |`,
    `| total ms mean | ${ms(s.peerMeanMs)} | ${ms(s.oursMeanMs)} | ${x2(s.ratio)}${verdict} (target ≤ ${s.target} ×) |`,
    `| each round's ratio | | | ${rounds === '' ? '–' : rounds} |`,
    `| median of per-request ratios (same clip, same round) | | | ${x2(s.pairRatioMedian)} |`,
  ].join('\n');
}
