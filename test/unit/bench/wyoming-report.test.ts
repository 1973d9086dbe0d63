import { describe, expect, it } from 'vitest';
import { parseBenchOutput, type ServerOutput } from '../../../bench/wyoming/parse.mjs';
import { checkTargets, renderMarkdown, summarize, type Row } from '../../../bench/wyoming/report.mjs';
import { toPcm16Wav } from '../../../bench/wyoming/corpus.mjs';
import { splitEvent } from '../../../bench/wyoming/servers.mjs';
import { interleaveOrder, renderInterleaved, summarizeInterleaved } from '../../../bench/wyoming/interleave.mjs';

// Verbatim stdout of `wyoming-bench stt -v` 2026.10.0 against wyoming-faster-whisper 3.8.1 (5 French clips).
const PEER_OUTPUT = `wyoming-bench 2026.10.0 (stt)
servers: ['127.0.0.1:10555']
modes:   ['non_streaming', 'streaming']
rounds:  1  warmup: 1
probe:   8s  chunk_samples: 1024  chunk_delay: 0s  trailing_silence: 0.5s
corpus:  5 sample(s), 16.2s audio
language: fr

capabilities (advertised):
  127.0.0.1:10555
    faster-whisper - non-streaming

=== 127.0.0.1:10555 (faster-whisper) ===
[warmup:non_streaming] fr_cmd_allume_la_chambre_a_80_pourcent: ok
[non_streaming] r0 fr_cmd_allume_la_chambre_a_80_pourcent total=1018ms ttft=n/a WER=0.0% audio=3.06s
[non_streaming] r0 fr_cmd_allume_la_lumiere total=700ms ttft=n/a WER=0.0% audio=2.38s
[non_streaming] r0 fr_cmd_allume_le_premier_etage_en_vert total=786ms ttft=n/a WER=16.7% audio=3.07s
[non_streaming] r0 fr_cmd_allume_le_rez_de_chaussee_a_80_pourcent total=820ms ttft=n/a WER=42.9% audio=3.27s
[non_streaming] r0 fr_cmd_allume_toutes_les_lumieres_dans_le_rez_de_chaussee total=899ms ttft=n/a WER=0.0% audio=4.47s
  [streaming] NOT SUPPORTED by 127.0.0.1:10555 (not advertised by server); skipping streaming mode

Server: 127.0.0.1:10555 (faster-whisper)
------------------------------------------------------------------------------
[non_streaming] ok=5 fail=0
  metric             min      mean    median       p95       max
  Total (ms)       700.0     844.5     820.4     993.9    1017.6
  RTF (x)           0.20      0.27      0.26      0.32      0.33
  Audio        mean=3.25s input
  Accuracy     WER=13.3%  CER=7.3%  SAR=60.0%
               edits S=3 I=0 D=1  (ref words=30)

==============================================================================
Summary (lower is better)
==============================================================================

[non_streaming]
  server                              ok      WER      CER     SAR  Total_mean   TTFT_p95  RTF_mean
  127.0.0.1:10555 (faster-whisper)     5    13.3%     7.3%   60.0%       844.5        n/a      0.27
`;

// Printed by wyoming-bench 2026.10.0's own reporting functions (print_stt_server_report, the -v line printer)
// from made-up measurements: a streaming server with a TTFT row, failed requests and a failed warm-up.
const STREAMING_OUTPUT = `=== 127.0.0.1:41234 (stt-engine) ===
[warmup:non_streaming] a: ok
[non_streaming] r0 a total=401ms ttft=n/a WER=0.0% audio=2.00s
[non_streaming] r0 b total=600ms ttft=n/a WER=66.7% audio=3.00s
[non_streaming] r1 a total=401ms ttft=n/a WER=0.0% audio=2.00s
[non_streaming] r1 b total=600ms ttft=n/a WER=66.7% audio=3.00s
[warmup:streaming] a: FAIL (timed out (>60s per event))
[streaming] r0 a total=450ms ttft=200ms WER=0.0% audio=2.00s
[streaming] r0 b FAIL: server error (stt-busy): decoder busy
[streaming] r1 a total=450ms ttft=200ms WER=0.0% audio=2.00s
[streaming] r1 b FAIL: server error (stt-busy): decoder busy

Server: 127.0.0.1:41234 (stt-engine)
------------------------------------------------------------------------------
[non_streaming] ok=4 fail=0
  metric             min      mean    median       p95       max
  Total (ms)       401.2     500.6     500.6     600.0     600.0
  RTF (x)           0.20      0.20      0.20      0.20      0.20
  Audio        mean=2.50s input
  Accuracy     WER=33.3%  CER=6.1%  SAR=50.0%
               edits S=4 I=0 D=0  (ref words=12)
[streaming] ok=2 fail=2
  metric             min      mean    median       p95       max
  Total (ms)       450.0     450.0     450.0     450.0     450.0
  TTFT (ms)        200.0     200.0     200.0     200.0     200.0
  RTF (x)           0.22      0.22      0.22      0.22      0.22
  Audio        mean=2.00s input
  Accuracy     WER=0.0%  CER=0.0%  SAR=100.0%
               edits S=0 I=0 D=0  (ref words=6)

==============================================================================
Summary (lower is better)
==============================================================================

[streaming]
  server                              ok      WER      CER     SAR  Total_mean   TTFT_p95  RTF_mean
  127.0.0.1:41234 (stt-engine)         2     0.0%     0.0%  100.0%       450.0      200.0      0.22
`;

function only(text: string): ServerOutput {
  const servers = parseBenchOutput(text).servers;
  expect(servers).toHaveLength(1);
  const [s] = servers;
  if (s === undefined) throw new Error('no server');
  return s;
}

describe('parseBenchOutput', () => {
  it('reads the header, every -v line and the per-server block of a real run', () => {
    const out = parseBenchOutput(PEER_OUTPUT);
    expect([out.version, out.rounds, out.warmup, out.corpus]).toEqual(['2026.10.0', 1, 1, { samples: 5, audioInS: 16.2 }]);
    const s = only(PEER_OUTPUT);
    expect(s.label).toBe('127.0.0.1:10555 (faster-whisper)');
    expect(s.notSupported).toEqual({ streaming: 'not advertised by server' });
    expect(s.warmups).toEqual([{ mode: 'non_streaming', sampleId: 'fr_cmd_allume_la_chambre_a_80_pourcent', ok: true, error: null }]);
    expect(s.measurements.map((m) => m.totalMs)).toEqual([1018, 700, 786, 820, 899]);
    expect(s.measurements[3]).toMatchObject({ round: 0, ttftMs: null, audioInS: 3.27, ok: true });
    expect(s.measurements[3]?.wer).toBeCloseTo(0.429, 12);
    // The summary table at the end repeats the block: it must not add a mode or overwrite one.
    expect(Object.keys(s.modes)).toEqual(['non_streaming']);
    expect(s.modes['non_streaming']).toEqual({
      ok: 5,
      fail: 0,
      totalMs: { min: 700, mean: 844.5, median: 820.4, p95: 993.9, max: 1017.6 },
      ttftMs: null,
      rtf: { min: 0.2, mean: 0.27, median: 0.26, p95: 0.32, max: 0.33 },
      audioMeanInS: 3.25,
      wer: 0.133,
      cer: 0.073,
      sar: 0.6,
      edits: { sub: 3, ins: 0, del: 1, refWords: 30 },
    });
  });

  it('reads TTFT rows, failed requests and failed warm-ups', () => {
    const s = only(STREAMING_OUTPUT);
    expect(s.modes['streaming']?.ttftMs).toEqual({ min: 200, mean: 200, median: 200, p95: 200, max: 200 });
    expect([s.modes['streaming']?.ok, s.modes['streaming']?.fail]).toEqual([2, 2]);
    const failed = s.measurements.filter((m) => !m.ok);
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ mode: 'streaming', round: 0, sampleId: 'b', totalMs: null, error: 'server error (stt-busy): decoder busy' });
    expect(s.warmups[1]).toEqual({ mode: 'streaming', sampleId: 'a', ok: false, error: 'timed out (>60s per event)' });
    expect(s.measurements.filter((m) => m.mode === 'streaming' && m.ok).map((m) => m.ttftMs)).toEqual([200, 200]);
  });

  it('refuses a known line it cannot read instead of dropping the number', () => {
    expect(() => parseBenchOutput(PEER_OUTPUT.replace('total=700ms', 'total=0.7s'))).toThrow(/unreadable measurement line/u);
    expect(() => parseBenchOutput(PEER_OUTPUT.replace('  Total (ms)       700.0', '  Total (ms)       fast'))).toThrow(/bad number 'fast'/u);
    expect(() => parseBenchOutput(PEER_OUTPUT.replace('edits S=3', 'edits S=three'))).toThrow(/unreadable report line/u);
  });

  it('finds no server in output that never reached one', () => {
    expect(parseBenchOutput('wyoming-bench 2026.10.0 (stt)\n  [preflight] 127.0.0.1:1 unavailable (ConnectionRefusedError); skipping server\n').servers)
      .toMatchObject([{ label: '(preflight)', skipped: ['preflight: 127.0.0.1:1 unavailable (ConnectionRefusedError); skipping server'] }]);
  });
});

describe('summarize, checkTargets and renderMarkdown', () => {
  const peer = only(PEER_OUTPUT);
  const ours = only(STREAMING_OUTPUT);
  const servers = [
    { system: 'peer', passes: [{ pass: 'burst' as const, modes: ['non_streaming', 'streaming'], output: peer }] },
    { system: 'ours', passes: [{ pass: 'burst' as const, modes: ['non_streaming', 'streaming'], output: ours }] },
  ];

  it('makes one row per system × mode, with the pooled WER from the edit counts', () => {
    const rows = summarize(servers);
    expect(rows.map((r) => [r.system, r.label, r.supported])).toEqual([
      ['peer', 'non_streaming', true],
      ['peer', 'streaming', false],
      ['ours', 'non_streaming', true],
      ['ours', 'streaming', true],
    ]);
    expect(rows[0]?.wer).toBe(4 / 30); // exact, not the printed 13.3 %
    expect(rows[1]?.note).toBe('not advertised by server');
    expect(rows[3]).toMatchObject({ ok: 2, fail: 2, ttftMeanMs: 200, ttftP95Ms: 200, ttftCount: 2, totalMeanMs: 450 });
  });

  it('compares ours with the peer in non-streaming mode and requires every request answered', () => {
    const t = checkTargets(summarize(servers));
    expect(t.total?.ratio).toBeCloseTo(500.6 / 844.5, 12);
    expect(t.total?.met).toBe(false); // 0.59 > 0.5
    expect(t.wer?.delta).toBeCloseTo(4 / 12 - 4 / 30, 12);
    expect(t.wer?.met).toBe(false);
    // Streaming answered, but two requests failed: not met.
    expect(t.streaming).toMatchObject({ supported: true, ttftMeanMs: 200, met: false, realtimeTtftMeanMs: null });
  });

  it('meets a target exactly at the bound, and the streaming one only with a partial on every request', () => {
    const first = summarize(servers)[0];
    if (first === undefined) throw new Error('no row');
    const row = (over: Partial<Row>): Row => ({ ...first, ...over });
    const rows: Row[] = [
      row({ system: 'peer', wer: 0.3, totalMeanMs: 1000 }),
      row({ system: 'ours', wer: 0.3, totalMeanMs: 500 }),
      row({ system: 'ours', mode: 'streaming', ok: 5, ttftCount: 5, ttftMeanMs: 150 }),
      row({ system: 'ours', pass: 'realtime', mode: 'streaming', ok: 5, ttftCount: 4, ttftMeanMs: 900 }),
    ];
    const t = checkTargets(rows);
    expect([t.wer?.met, t.total?.met, t.total?.ratio]).toEqual([true, true, 0.5]);
    expect(t.streaming).toMatchObject({ ttftMeanMs: 150, realtimeTtftMeanMs: 900, met: false });
    expect(checkTargets(rows.slice(0, 3)).streaming?.met).toBe(true);
  });

  it('renders the table and the target lines', () => {
    const rows = summarize(servers);
    const md = renderMarkdown({ rows, targets: checkTargets(rows), names: { peer: 'wyoming-faster-whisper', ours: 'ours' } });
    expect(md).toContain('| wyoming-faster-whisper | non_streaming | 5 / 0 | 13.3 % | 7.3 % | 845 | 820 | 994 | – | – | 0.27 |');
    expect(md).toContain('| wyoming-faster-whisper | streaming | not supported (not advertised by server) |');
    expect(md).toContain('| ours | streaming | 2 / 2 | 0.0 % | 0.0 % | 450 | 450 | 450 | 200 | 200 | 0.22 |');
    expect(md).toContain('| 501 ms vs 845 ms = 0.59 × | ❌ |');
    expect(md).toContain('| 33.3 % vs 13.3 % (+20.0 points) | ❌ |');
  });
});

describe('toPcm16Wav', () => {
  function wav(format: number, bits: number, samples: Buffer, extensible = false): Buffer {
    const fmtSize = extensible ? 40 : 16;
    const fmt = Buffer.alloc(8 + fmtSize);
    fmt.write('fmt ', 0, 'ascii');
    fmt.writeUInt32LE(fmtSize, 4);
    fmt.writeUInt16LE(extensible ? 0xfffe : format, 8);
    fmt.writeUInt16LE(1, 10);
    fmt.writeUInt32LE(22050, 12);
    fmt.writeUInt16LE(bits, 22);
    if (extensible) fmt.writeUInt16LE(format, 32); // first bytes of the sub-format GUID
    const list = Buffer.from('LIST\x04\x00\x00\x00INFO', 'latin1');
    const data = Buffer.concat([Buffer.from('data', 'ascii'), Buffer.alloc(4), samples]);
    data.writeUInt32LE(samples.length, 4);
    const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), fmt, list, data]);
    const head = Buffer.alloc(8);
    head.write('RIFF', 0, 'ascii');
    head.writeUInt32LE(body.length, 4);
    return Buffer.concat([head, body]);
  }
  const int16 = (values: number[]): Buffer => {
    const b = Buffer.alloc(2 * values.length);
    values.forEach((v, i) => b.writeInt16LE(v, 2 * i));
    return b;
  };

  it('keeps 16-bit samples and the rate, and drops other chunks', () => {
    const { wav: out, rateHz, channels, converted, durationInS } = toPcm16Wav(wav(1, 16, int16([1, -2, 32767])), 'x.wav');
    expect([rateHz, channels, converted, durationInS]).toEqual([22050, 1, false, 3 / 22050]);
    expect(out.length).toBe(44 + 6);
    expect(out.toString('ascii', 36, 40)).toBe('data');
    expect([out.readInt16LE(44), out.readInt16LE(46), out.readInt16LE(48)]).toEqual([1, -2, 32767]);
  });

  it('converts float and extensible 24-bit files to 16-bit PCM', () => {
    const f = Buffer.alloc(8);
    f.writeFloatLE(0.5, 0);
    f.writeFloatLE(-2, 4); // clipped
    const a = toPcm16Wav(wav(3, 32, f), 'f.wav');
    expect([a.converted, a.wav.readUInt16LE(20), a.wav.readInt16LE(44), a.wav.readInt16LE(46)]).toEqual([true, 1, 16384, -32768]);
    const s24 = Buffer.from([0x00, 0x00, 0x40, 0x00, 0x00, 0xc0]); // 0x400000, -0x400000
    const b = toPcm16Wav(wav(1, 24, s24, true), 'e.wav');
    expect([b.wav.readInt16LE(44), b.wav.readInt16LE(46)]).toEqual([16384, -16384]);
  });

  it('refuses what it cannot convert', () => {
    expect(() => toPcm16Wav(Buffer.from('not a wav at all'), 'n.wav')).toThrow(/n.wav: not a RIFF/u);
    expect(() => toPcm16Wav(wav(2, 4, Buffer.alloc(4)), 'adpcm.wav')).toThrow(/unsupported sample format 2/u);
  });
});

describe('splitEvent (the describe handshake)', () => {
  it('waits for the whole event, merges the data block into the header data and keeps the rest', () => {
    const data = Buffer.from(JSON.stringify({ asr: [{ name: 'x' }] }), 'utf8');
    const header = Buffer.from(`${JSON.stringify({ type: 'info', data: { a: 1 }, data_length: data.length, payload_length: 2 })}\n`, 'utf8');
    const whole = Buffer.concat([header, data, Buffer.from('pp'), Buffer.from('{"type":"x"}')]);
    expect(splitEvent(whole.subarray(0, header.length + data.length + 1))).toBeNull();
    const ev = splitEvent(whole);
    expect(ev?.type).toBe('info');
    expect(ev?.data).toEqual({ a: 1, asr: [{ name: 'x' }] });
    expect(ev?.rest.toString()).toBe('{"type":"x"}');
    expect(() => splitEvent(Buffer.from('{"data":{}}\n'))).toThrow(/without a type/u);
  });
});

describe('interleaved passes (both servers up, the first one alternating)', () => {
  /** One non-streaming pass's output: `totals` per sample id, in ms (null: a failed request). */
  function pass(totals: Record<string, number | null>): ServerOutput {
    return {
      label: '127.0.0.1:1',
      measurements: Object.entries(totals).map(([sampleId, totalMs]) => ({
        mode: 'non_streaming',
        round: 0,
        sampleId,
        ok: totalMs !== null,
        totalMs,
        ttftMs: null,
        wer: totalMs !== null ? 0 : null,
        audioInS: 2,
        error: totalMs !== null ? null : 'server error',
      })),
      warmups: [],
      notSupported: {},
      skipped: [],
      modes: {},
    };
  }

  it('alternates the first server', () => {
    expect([0, 1, 2, 3].map((r) => interleaveOrder(r)[0])).toEqual(['peer', 'ours', 'peer', 'ours']);
  });

  it('pools every round, gives each round its ratio and the median per-request ratio', () => {
    // Round 1 ran on a machine 20 % slower, for both servers: each round's ratio stays 0.5 and 0.6.
    const s = summarizeInterleaved(
      [
        { round: 0, system: 'peer', output: pass({ a: 1000, b: 600 }) },
        { round: 0, system: 'ours', output: pass({ a: 500, b: 300 }) },
        { round: 1, system: 'ours', output: pass({ a: 720, b: 432 }) },
        { round: 1, system: 'peer', output: pass({ a: 1200, b: 720 }) },
      ],
      0.5,
    );
    expect(s.rounds).toBe(2);
    expect(s.requests).toEqual({ ours: 4, peer: 4 });
    expect(s.failed).toEqual({ ours: 0, peer: 0 });
    expect(s.oursMeanMs).toBeCloseTo((500 + 300 + 720 + 432) / 4, 9);
    expect(s.peerMeanMs).toBeCloseTo((1000 + 600 + 1200 + 720) / 4, 9);
    expect(s.roundRatios.map((r) => r.toFixed(3))).toEqual(['0.500', '0.600']);
    expect(s.pairRatioMedian).toBeCloseTo(0.55, 9);
    expect(s.ratio).toBeCloseTo(1952 / 3520, 9);
    expect(s.met).toBe(false);
    const md = renderInterleaved(s);
    expect(md).toContain('| total ms mean | 880 | 488 | 0.55 × ❌ (target ≤ 0.5 ×) |');
    expect(md).toContain("| each round's ratio | | | 0.50, 0.60 |");
  });

  it('is met only at or under the target, with no failed request and every round paired', () => {
    const fast = (round: number) => [
      { round, system: 'peer', output: pass({ a: 1000 }) },
      { round, system: 'ours', output: pass({ a: 400 }) },
    ];
    expect(summarizeInterleaved([...fast(0), ...fast(1)], 0.5).met).toBe(true);
    // A failed request of ours: not met, whatever the mean of the others.
    const failing = [{ round: 0, system: 'peer', output: pass({ a: 1000, b: 1000 }) }, { round: 0, system: 'ours', output: pass({ a: 400, b: null }) }];
    const f = summarizeInterleaved(failing, 0.5);
    expect([f.met, f.failed.ours, f.requests.ours]).toEqual([false, 1, 1]);
    // A round where one server printed no report: unpaired, not met.
    const unpaired = summarizeInterleaved([...fast(0), { round: 1, system: 'peer', output: pass({ a: 1000 }) }, { round: 1, system: 'ours', output: null }], 0.5);
    expect([unpaired.met, unpaired.roundRatios.length]).toEqual([false, 1]);
    expect(summarizeInterleaved([], 0.5)).toMatchObject({ ratio: null, met: false, pairRatioMedian: null });
  });
});
