/**
 * The inspector's model of a session: the statechart read from the real supervisor machine, the
 * utterance rows (lifecycle, texts, latency breakdown) folded from a scripted trace, and the hub's
 * batches (progress folded into thinned level points, counted).
 */
import { describe, expect, it } from 'vitest';
import { supervisorMachine } from '../../../src/state/supervisor.js';
import { InspectorHub, SUPERVISOR_MACHINE, type InspectorBatch } from '../../../src/inspector/hub.js';
import { activeStateIds, type MachineStateJson } from '../../../src/inspector/machine.js';
import { UtteranceTracker } from '../../../src/inspector/utterances.js';
import { EPOCH, HEADER, numbered, oneUtterance, ScriptedSource, vadProgress } from './scripted-records.js';

function all(node: MachineStateJson): MachineStateJson[] {
  return [node, ...node.states.flatMap(all)];
}

describe('supervisor statechart JSON', () => {
  it('has every state node of the machine, with its transitions, guards, entry actions and invocations', () => {
    const ids = all(SUPERVISOR_MACHINE).map((s) => s.id);
    // The same ids XState itself knows (idMap holds every state node).
    const known = [...(supervisorMachine.root as unknown as { machine: { idMap: Map<string, unknown> } }).machine.idMap.keys()];
    expect(ids.sort()).toEqual(known.sort());
    const byId = new Map(all(SUPERVISOR_MACHINE).map((s) => [s.id, s]));
    expect(byId.get('supervisor')?.initial).toBe('supervisor.starting');
    expect(byId.get('supervisor.running')?.transitions).toContainEqual({ event: 'always', targets: ['supervisor.draining'], guard: 'captureEnded', actions: [] });
    expect(byId.get('supervisor.running')?.transitions).toContainEqual({ event: 'FLUSH', targets: [], guard: null, actions: ['endInput'] });
    expect(byId.get('supervisor.starting.backends')?.transitions).toContainEqual({ event: 'done', targets: ['supervisor.starting.vad'], guard: null, actions: ['backendsUp'] });
    expect(byId.get('supervisor.starting.backends')?.invoke).toEqual(['startBackends']);
    expect(byId.get('supervisor.draining.vad')?.entry).toEqual(['flushVad']);
    expect(byId.get('supervisor.closed')?.type).toBe('final');
    // JSON-safe (XState's own definition is cyclic).
    expect(JSON.parse(JSON.stringify(SUPERVISOR_MACHINE))).toEqual(SUPERVISOR_MACHINE);
  });

  it('maps state values to active ids', () => {
    expect(activeStateIds('supervisor', 'running')).toEqual(['supervisor.running']);
    expect(activeStateIds('supervisor', { draining: 'decodes' })).toEqual(['supervisor.draining', 'supervisor.draining.decodes']);
  });
});

describe('UtteranceTracker', () => {
  it('folds the lifecycle, texts and the latency breakdown of a final', () => {
    const tracker = new UtteranceTracker();
    tracker.setHeader(EPOCH, 16_000, 96);
    for (const r of oneUtterance()) tracker.apply(r);
    const [row] = tracker.rows();
    expect(row).toEqual({
      id: 1,
      state: 'emitted',
      path: ['speech', 'endpointing', 'decoding', 'postprocessing', 'emitted'],
      startMs: 0,
      endMs: 1250,
      partial: { stable: 'allume', unstable: 'la' },
      partials: 1,
      final: 'Allume la lumière.',
      rejected: null,
      speculative: true,
      beamNarrowed: true,
      // vad: speechEnd at 2500; its last speech sample (20000 − 96 ms post-roll) was written at 2000.
      latency: { vadMs: 500, queueMs: 5, encoderMs: 110, decoderMs: 50, postProcessMs: 2, totalMs: 900 },
    });
  });

  it('without a header the VAD stage is unknown, the rest still adds up', () => {
    const tracker = new UtteranceTracker();
    for (const r of oneUtterance()) tracker.apply(r);
    expect(tracker.rows()[0]?.latency).toEqual({ vadMs: null, queueMs: 5, encoderMs: 110, decoderMs: 50, postProcessMs: 2, totalMs: 900 });
  });

  it('records a rejection and its reason', () => {
    const tracker = new UtteranceTracker();
    for (const r of numbered([
      { kind: 'utterance', atMs: 1, utteranceId: 7, state: 'speech' },
      { kind: 'utterance', atMs: 2, utteranceId: 7, state: 'rejected' },
      { kind: 'output', atMs: 2, type: 'rejected', payload: { utteranceId: 7, reason: 'misfire', startMs: 10, endMs: 90, text: '' } },
    ])) tracker.apply(r);
    expect(tracker.rows()[0]).toMatchObject({ id: 7, state: 'rejected', path: ['speech', 'rejected'], rejected: 'misfire', final: null, latency: null });
  });

  it('keeps the 50 newest rows of a long session', () => {
    const tracker = new UtteranceTracker();
    for (let id = 1; id <= 60; id++) tracker.apply({ kind: 'utterance', seq: id, atMs: id, utteranceId: id, state: 'speech' });
    expect(tracker.rows().map((r) => r.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
  });
});

describe('InspectorHub', () => {
  it('batches records, rows and state; progress becomes level points, not records', () => {
    const hub = new InspectorHub({ batchMs: 60_000, metricsMs: 0 });
    const source = new ScriptedSource();
    hub.attach(source);
    const batches: InspectorBatch[] = [];
    hub.subscribe((b) => batches.push(b));
    const records = oneUtterance();
    source.play(records);
    hub.flush();
    expect(batches).toHaveLength(1);
    const b = batches[0]!;
    expect(b.header).toEqual(HEADER);
    expect(b.state).toBe('running');
    expect(b.levels).toEqual([[8192, 0.9, -20, 1]]);
    expect(b.records.some((r) => r.kind === 'event' && (r.data as { type: string }).type === 'progress')).toBe(false);
    expect(b.records).toHaveLength(records.length - 3); // 2 capture + 1 VAD progress folded
    expect(b.utterances.map((u) => [u.id, u.state])).toEqual([[1, 'emitted']]);
    expect(b.stats).toEqual({ records: records.length, progressRecords: 3, levelPointsThinned: 0 });
    // Nothing new: no empty batch.
    hub.flush();
    expect(batches).toHaveLength(1);
    // A new connection starts from the same picture.
    const snap = hub.snapshot();
    expect(snap.state).toBe('running');
    expect(snap.utterances[0]?.final).toBe('Allume la lumière.');
    expect(snap.recent).toEqual(b.records);
    hub.close();
  });

  it('thins a flood of progress to a bounded number of points per batch, keeping the most speech-like', () => {
    const hub = new InspectorHub({ batchMs: 60_000, metricsMs: 0 });
    const batches: InspectorBatch[] = [];
    hub.subscribe((b) => batches.push(b));
    const flood = numbered(Array.from({ length: 480 }, (_, i) => vadProgress(i, (i + 1) * 512, i === 300 ? 0.99 : 0.1)));
    for (const r of flood) hub.record(r);
    hub.flush();
    const levels = batches[0]!.levels;
    expect(levels).toHaveLength(48);
    expect(levels.at(-1)?.[0]).toBe(480 * 512);
    expect(levels.filter((p) => p[1] === 0.99)).toHaveLength(1);
    expect(batches[0]!.stats.levelPointsThinned).toBe(480 - 48);
    // The snapshot keeps the full-resolution history.
    expect(hub.snapshot().levels).toHaveLength(480);
  });

  it('detach stops listening to the engine', () => {
    const hub = new InspectorHub({ batchMs: 60_000, metricsMs: 0 });
    const source = new ScriptedSource();
    hub.attach(source);
    expect(source.listenerCount('trace')).toBe(1);
    hub.detach();
    expect(source.listenerCount('trace')).toBe(0);
    // attach with subscribe: false (records come through createEngine's onTrace instead).
    hub.attach(source, { subscribe: false });
    expect(source.listenerCount('trace')).toBe(0);
    hub.close();
  });
});
