// The inspector page: plain browser JavaScript, no build step, nothing fetched but this server's
// /events stream (Server-Sent Events: `snapshot`, then `batch`es). Text from the engine is only ever
// set with textContent, never parsed as HTML.
'use strict';

const UTTERANCE_STATES = ['idle', 'speech', 'endpointing', 'decoding', 'postprocessing', 'emitted', 'rejected'];
const TIMELINE_MAX = 600;
const STRIP_SECONDS = 30;
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

const view = {
  machine: null,
  header: null,
  state: null,
  rows: new Map(),
  levels: [],
  metrics: null,
  stats: null,
  droppedBatches: 0,
  stripDirty: false,
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

// ---- supervisor statechart -------------------------------------------------------------------

function shortId(id) {
  return view.machine && id.startsWith(`${view.machine.id}.`) ? id.slice(view.machine.id.length + 1) : id;
}

function transitionText(t) {
  const guard = t.guard ? ` [${t.guard}]` : '';
  const target = t.targets.length ? ` → ${t.targets.map(shortId).join(', ')}` : '';
  const actions = t.actions.length ? ` / ${t.actions.join(', ')}` : '';
  return `${t.event}${guard}${target}${actions}`;
}

function renderState(node, parent) {
  const box = el('div', { class: 'state', 'data-testid': `state-${node.id}`, 'data-id': node.id });
  const title = el('div', { class: parent && parent.initial === node.id ? 'initial' : '' }, el('span', { class: 'name' }, node.key), el('span', { class: 'badge' }, node.type));
  box.append(title);
  const facts = el('ul');
  for (const action of node.entry) facts.append(el('li', {}, `entry / ${action}`));
  for (const src of node.invoke) facts.append(el('li', {}, `invoke ${src}`));
  for (const t of node.transitions) facts.append(el('li', {}, transitionText(t)));
  if (facts.childElementCount) box.append(facts);
  if (node.states.length) {
    const children = el('div', { class: 'children' });
    for (const child of node.states) children.append(renderState(child, node));
    box.append(children);
  }
  return box;
}

function activeIds(rootId, value) {
  const out = [rootId];
  const walk = (prefix, v) => {
    if (typeof v === 'string') out.push(`${prefix}.${v}`);
    else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) { out.push(`${prefix}.${k}`); walk(`${prefix}.${k}`, c); }
  };
  walk(rootId, value);
  return out;
}

function stateText(value) {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}.${stateText(v)}`).join(', ');
  return '—';
}

function drawMachine() {
  const host = $('statechart');
  host.replaceChildren();
  if (view.machine) host.append(renderState(view.machine, null));
  highlightState();
}

function highlightState() {
  $('supervisor-state').textContent = stateText(view.state);
  if (!view.machine) return;
  const ids = view.state === null ? [] : activeIds(view.machine.id, view.state);
  for (const box of document.querySelectorAll('.state')) {
    const i = ids.indexOf(box.dataset.id);
    box.classList.toggle('active', i >= 0);
    box.classList.toggle('current', i >= 0 && i === ids.length - 1);
  }
}

// ---- utterances -----------------------------------------------------------------------------

function fmtMs(ms) { return ms === null || ms === undefined ? '—' : `${Math.round(ms)}`; }

function renderRow(row) {
  const id = row.id;
  let tr = document.querySelector(`[data-testid="utterance-${id}"]`);
  if (!tr) {
    tr = el('tr', { 'data-testid': `utterance-${id}` });
    $('utterances').prepend(tr);
  }
  tr.dataset.state = row.state;
  const chips = el('td', { class: 'lifecycle' });
  for (const s of UTTERANCE_STATES) {
    const cls = ['chip', row.path.includes(s) ? 'visited' : '', row.state === s ? 'current' : ''].join(' ');
    chips.append(el('span', { class: cls, 'data-testid': `utt-${id}-state-${s}` }, s));
  }
  const text = el('td', { class: 'text', 'data-testid': `utt-${id}-text` });
  if (row.final !== null) text.append(el('span', { class: 'final', 'data-testid': `utt-${id}-final` }, row.final));
  else if (row.rejected !== null) text.append(el('span', { class: 'rejected', 'data-testid': `utt-${id}-rejected` }, `rejected: ${row.rejected}`));
  else if (row.partial) text.append(el('span', { 'data-testid': `utt-${id}-partial` }, el('span', { class: 'stable' }, row.partial.stable), ' ', el('span', { class: 'unstable' }, row.partial.unstable)));
  const notes = [row.partials ? `${row.partials} partial${row.partials > 1 ? 's' : ''}` : '', row.speculative ? 'speculative final' : '', row.beamNarrowed ? 'beam narrowed at its deadline' : ''].filter(Boolean);
  if (notes.length > 0) text.append(el('div', { class: 'muted', 'data-testid': `utt-${id}-notes` }, notes.join(' · ')));
  const audio = el('td', { class: 'muted' }, row.startMs === null ? '' : `${(row.startMs / 1000).toFixed(2)}–${row.endMs === null ? '…' : (row.endMs / 1000).toFixed(2)} s`);
  tr.replaceChildren(el('td', {}, `${id}`), chips, audio, text, latencyCell(row));
}

function latencyCell(row) {
  const td = el('td', { 'data-testid': `latency-${row.id}` });
  const l = row.latency;
  if (!l) return td;
  const stages = [['vad', l.vadMs], ['queue', l.queueMs], ['encoder', l.encoderMs], ['decoder', l.decoderMs], ['post', l.postProcessMs]];
  const sum = stages.reduce((s, [, v]) => s + (v || 0), 0) || 1;
  const bar = el('div', { class: 'bar' });
  for (const [name, v] of stages) {
    if (!v) continue;
    const part = el('span', { class: name, title: `${name} ${fmtMs(v)} ms` });
    part.style.width = `${(100 * v) / sum}%`; // CSSOM, not a style attribute: the CSP forbids inline styles
    bar.append(part);
  }
  const numbers = el('div', { class: 'lat-numbers' });
  for (const [name, v] of stages) numbers.append(el('span', { 'data-stage': name }, `${name} ${fmtMs(v)}  `));
  numbers.append(el('b', { 'data-stage': 'total' }, `total ${fmtMs(l.totalMs)}`));
  td.append(bar, numbers);
  return td;
}

// ---- level / probability strip -------------------------------------------------------------

function drawStrip() {
  view.stripDirty = false;
  const canvas = $('level-strip');
  canvas.dataset.points = String(view.levels.length);
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  ctx.fillStyle = '#0b1020';
  ctx.fillRect(0, 0, w, h);
  const rate = (view.header && view.header.sampleRate) || 16000;
  const last = view.levels.length ? view.levels[view.levels.length - 1][0] : 0;
  const span = STRIP_SECONDS * rate;
  const x0 = Math.max(0, last - span);
  const xOf = (pos) => ((pos - x0) / span) * w;
  let prevX = 0;
  for (const [pos, , , inUtt] of view.levels) {
    const x = xOf(pos);
    if (x < 0) continue;
    if (inUtt) { ctx.fillStyle = '#1e3a8a'; ctx.fillRect(prevX, 0, Math.max(1, x - prevX), h); }
    prevX = x;
  }
  prevX = 0;
  ctx.fillStyle = '#4b5563';
  for (const [pos, , db] of view.levels) {
    const x = xOf(pos);
    if (x < 0) continue;
    const bh = Math.max(0, Math.min(1, (db + 80) / 80)) * h;
    ctx.fillRect(prevX, h - bh, Math.max(1, x - prevX - 0.5), bh);
    prevX = x;
  }
  const vad = view.header && view.header.options && view.header.options.engine && view.header.options.engine.vad;
  if (vad && typeof vad.positiveThreshold === 'number') {
    ctx.strokeStyle = '#f59e0b';
    ctx.setLineDash([4, 4]);
    ctx.beginPath(); ctx.moveTo(0, h - vad.positiveThreshold * h); ctx.lineTo(w, h - vad.positiveThreshold * h); ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.strokeStyle = '#22d3ee';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let started = false;
  for (const [pos, p] of view.levels) {
    const x = xOf(pos);
    if (x < 0) continue;
    const y = h - p * (h - 2) - 1;
    if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
  }
  ctx.stroke();
  const lastPoint = view.levels[view.levels.length - 1];
  if (lastPoint) $('vad-readout').textContent = `at ${(lastPoint[0] / rate).toFixed(1)} s: p=${lastPoint[1].toFixed(2)}, ${lastPoint[2].toFixed(1)} dBFS`;
}

function scheduleStrip() {
  if (view.stripDirty) return;
  view.stripDirty = true;
  requestAnimationFrame(drawStrip);
}

// ---- counters --------------------------------------------------------------------------------

function flatten(prefix, value, out) {
  if (typeof value === 'number') out.push([prefix, value]);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
}

function renderCounters() {
  const rows = [];
  const m = view.metrics;
  if (m) {
    for (const key of ['utterances', 'finals', 'partials', 'rejected', 'misfires', 'speculativeReused', 'speculativeDiscarded', 'beamNarrowedFinals', 'replayedJobs', 'ringOverrunSamples']) if (typeof m[key] === 'number') rows.push([key, m[key]]);
    flatten('partialDrops', m.partialDrops, rows);
    // Older traces predate drafts.
    if (m.drafts) flatten('drafts', { accepted: m.drafts.accepted, guessed: m.drafts.guessed }, rows);
    flatten('restarts', m.restarts, rows);
    if (m.cancelledDecodes) flatten('cancelledDecodes', { partial: m.cancelledDecodes.partial, final: m.cancelledDecodes.final }, rows);
    flatten('queueDepth', m.queueDepth, rows);
  }
  rows.push(['inspector.droppedBatches', view.droppedBatches]);
  if (view.stats) {
    rows.push(['inspector.records', view.stats.records]);
    rows.push(['inspector.progressRecords', view.stats.progressRecords]);
    rows.push(['inspector.levelPointsThinned', view.stats.levelPointsThinned]);
  }
  const dl = $('counters');
  dl.replaceChildren();
  const notable = /drops|Drops|rejected|misfires|Overrun|restarts|dropped|replayed/u;
  for (const [k, v] of rows) {
    dl.append(el('dt', {}, k), el('dd', { 'data-testid': `counter-${k}`, class: v > 0 && notable.test(k) ? 'nonzero' : '' }, String(v)));
  }
}

// ---- timeline --------------------------------------------------------------------------------

function summary(r) {
  switch (r.kind) {
    case 'event': {
      const d = r.data || {};
      if (r.event !== 'message') return `${r.actor} ${r.event}${r.restarting ? ' (restarting)' : ''} ${JSON.stringify(d)}`;
      if (d.type === 'vad') return `${r.actor} › ${d.event.type} ${JSON.stringify(d.event)}`;
      if (d.type === 'result') return `${r.actor} › result #${d.jobId} ${d.kind} utt ${d.utteranceId} “${d.text}” mel ${fmtMs(d.timings.melMs)} enc ${fmtMs(d.timings.encodeMs)} dec ${fmtMs(d.timings.decodeMs)} wait ${fmtMs(d.timings.waitMs)} ms`;
      if (d.type === 'jobCancelled') return `${r.actor} › cancelled #${d.jobId} ${d.kind} utt ${d.utteranceId} after ${fmtMs(d.ranMs)} ms`;
      if (d.type === 'processed') return `${r.actor} › processed #${d.requestId} “${d.output && d.output.text}”${d.output && d.output.rejected ? ` rejected: ${d.output.rejected}` : ''}`;
      return `${r.actor} › ${d.type} ${JSON.stringify(d)}`;
    }
    case 'command': {
      const c = r.command || {};
      if (c.type === 'job') return `→ ${r.actor} job #${c.job.jobId} ${c.job.kind}${c.job.speculative ? ' (speculative)' : ''} utt ${c.job.utteranceId} [${c.job.startSamples}, ${c.job.endSamples})`;
      if (c.type === 'cancel') return `→ ${r.actor} cancel #${c.jobId}`;
      if (c.type === 'process') return `→ ${r.actor} process #${c.requestId} ${c.input.kind} “${c.input.text}”`;
      return `→ ${r.actor} ${JSON.stringify(c)}`;
    }
    case 'state': return `supervisor ⇒ ${stateText(r.value)}`;
    case 'utterance': return `utterance ${r.utteranceId} ⇒ ${r.state}`;
    case 'output': {
      const p = r.payload || {};
      if (r.type === 'final' || r.type === 'partial') return `${r.type} utt ${p.utteranceId}: “${p.text}”`;
      if (r.type === 'metrics') return 'metrics';
      return `${r.type} ${JSON.stringify(p)}`;
    }
    case 'control': return `control ${r.type}`;
    default: return JSON.stringify(r);
  }
}

function filterOf() {
  const kinds = new Set([...document.querySelectorAll('[data-testid="timeline-filters"] input[type=checkbox]')].filter((c) => c.checked).map((c) => c.dataset.kind));
  const text = $('filter-text').value.trim().toLowerCase();
  return (li) => kinds.has(li.dataset.kind) && (!text || li.textContent.toLowerCase().includes(text));
}

function addRecords(records) {
  const list = $('timeline');
  const visible = filterOf();
  const fragment = document.createDocumentFragment();
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i];
    // Periodic metrics outputs would bury everything else: their own filter, off by default.
    const kind = r.kind === 'output' && r.type === 'metrics' ? 'metrics' : r.kind;
    const li = el('li', { 'data-kind': kind, 'data-testid': 'timeline-item' }, el('span', { class: 't' }, `${r.atMs.toFixed(1)} ms`), summary(r));
    if (!visible(li)) li.classList.add('hidden');
    fragment.append(li);
  }
  list.prepend(fragment);
  while (list.childElementCount > TIMELINE_MAX) list.lastElementChild.remove();
}

function refilter() {
  const visible = filterOf();
  for (const li of $('timeline').children) li.classList.toggle('hidden', !visible(li));
}

// ---- stream ----------------------------------------------------------------------------------

function engineInfo(header) {
  const o = (header && header.options && header.options.engine) || {};
  const input = o.input ? o.input.kind + (o.input.path ? ` ${o.input.path}` : '') : '?';
  return `language ${o.language || '?'} · beam ${o.beamSize || '?'} · partials ${o.partialsEnabled ? 'on' : 'off'} · input ${input}`;
}

function applySnapshot(s) {
  view.machine = s.machine;
  view.header = s.header;
  view.state = s.state;
  view.metrics = s.metrics;
  view.stats = s.stats;
  view.droppedBatches = s.droppedBatches || 0;
  view.levels = s.levels.slice();
  view.rows = new Map();
  $('utterances').replaceChildren();
  $('timeline').replaceChildren();
  for (const row of s.utterances) { view.rows.set(row.id, row); renderRow(row); }
  if (s.header) $('engine-info').textContent = engineInfo(s.header);
  drawMachine();
  addRecords(s.recent);
  renderCounters();
  scheduleStrip();
}

function applyBatch(b) {
  if (b.header) { view.header = b.header; $('engine-info').textContent = engineInfo(b.header); }
  if ('state' in b) { view.state = b.state; highlightState(); }
  for (const row of b.utterances) { view.rows.set(row.id, row); renderRow(row); }
  if (b.levels.length) {
    for (const p of b.levels) view.levels.push(p);
    if (view.levels.length > 4096) view.levels.splice(0, view.levels.length - 4096);
    scheduleStrip();
  }
  if (b.records.length) addRecords(b.records);
  if (b.metrics) view.metrics = b.metrics;
  view.stats = b.stats;
  renderCounters();
}

function connect() {
  const status = $('connection');
  const source = new EventSource('events');
  source.addEventListener('open', () => { status.dataset.status = 'live'; status.textContent = 'live'; });
  source.addEventListener('error', () => { status.dataset.status = 'error'; status.textContent = source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…'; });
  source.addEventListener('snapshot', (e) => applySnapshot(JSON.parse(e.data)));
  source.addEventListener('batch', (e) => applyBatch(JSON.parse(e.data)));
}

document.addEventListener('DOMContentLoaded', () => {
  for (const input of document.querySelectorAll('[data-testid="timeline-filters"] input')) input.addEventListener('input', refilter);
  connect();
});
