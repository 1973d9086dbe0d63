/**
 * The inspector page in headless Chromium (Debian's chromium, driven by playwright-core) watching the
 * real engine transcribe a French clip read at real time: the page loads from the local server
 * alone, draws the supervisor's statechart with the running state highlighted, shows the utterance
 * in `speech` before its final exists (live, not after the fact), then the final text, its latency
 * breakdown and the VAD strip, and a screenshot is taken. Skipped without ../shared or Chromium
 * (both required under CI=true).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type FinalEvent } from '../../../dist/index.js';
import { startInspector, type Inspector } from '../../../dist/inspector/server.js';
import { corpusPath, hasShared, WHISPER_BASE_DIR } from '../../helpers/paths.js';

const CHROMIUM = process.env['STT_CHROMIUM'] ?? '/usr/bin/chromium';

function hasChromium(): boolean {
  const present = existsSync(CHROMIUM);
  if (!present && process.env['CI']) throw new Error(`CI=true but there is no Chromium at ${CHROMIUM}: the inspector page test cannot run`);
  return present;
}

const CLIP = 'fr/fr_fleurs_005.wav'; // 7.2 s: "giancarlo fisichella a perdu le contrôle de sa voiture…"
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe.skipIf(!hasChromium())('inspector page with a token in headless Chromium', () => {
  it('refuses the page without the token; with ?token= the page and its event stream work', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const inspector = await startInspector({ port: 0, token: 'browser-test-token-42' });
    try {
      const page = await browser.newPage();
      const bare = await page.goto(inspector.url.replace(/\?token=.*$/u, ''));
      expect(bare?.status()).toBe(401);
      const ok = await page.goto(inspector.url);
      expect(ok?.status()).toBe(200);
      // The EventSource carries no token in its URL: the cookie set with the page authenticates it.
      await page.locator('[data-testid="connection"][data-status="live"]').waitFor();
      await page.locator('[data-testid="state-supervisor.running"]').waitFor({ state: 'attached' });
    } finally {
      await inspector.close();
      await browser.close();
    }
  });
});

describe.skipIf(!hasShared() || !hasChromium())('inspector page in headless Chromium (real engine, real clip)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stt-inspector-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows the statechart, the utterance live, its final text and latency; screenshot', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    let inspector: Inspector | null = null;
    let engine: Engine | null = null;
    try {
      inspector = await startInspector({ port: 0 });
      const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      const requests: string[] = [];
      const problems: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      await page.goto(inspector.url);
      await page.locator('[data-testid="connection"][data-status="live"]').waitFor();
      // The statechart comes from the machine definition: every supervisor state has its box.
      for (const id of ['starting.backends', 'running', 'draining.decodes', 'drained', 'closing', 'closed']) {
        await page.locator(`[data-testid="state-supervisor.${id}"]`).waitFor({ state: 'attached' });
      }

      const finals: FinalEvent[] = [];
      engine = await createEngine({
        modelDir: WHISPER_BASE_DIR,
        beamSize: 1,
        threads: 2,
        metricsIntervalMs: 500,
        input: { kind: 'file', path: corpusPath(CLIP), realtime: true },
        onTrace: inspector.onTrace,
      });
      engine.on('final', (f) => finals.push(f));
      inspector.attach(engine, { subscribe: false });

      await page.locator('[data-testid="state-supervisor.running"].active.current').waitFor();
      await expect.poll(() => page.locator('[data-testid="supervisor-state"]').textContent()).toBe('running');
      // Live: the page shows the utterance being spoken while the engine has no final yet.
      const speaking = page.locator('tr[data-testid^="utterance-"][data-state="speech"]').first();
      await speaking.waitFor();
      expect(finals).toHaveLength(0);
      const rowId = (await speaking.getAttribute('data-testid'))!.replace('utterance-', '');
      await expect.poll(() => page.locator(`[data-testid="utt-${rowId}-state-speech"]`).getAttribute('class')).toContain('current');

      const metrics = await engine.done();
      expect(finals.length).toBeGreaterThanOrEqual(1);
      const first = finals[0]!;
      const finalText = page.locator(`[data-testid="utt-${first.utteranceId}-final"]`);
      await finalText.waitFor();
      expect(await finalText.textContent()).toBe(first.text);
      expect(first.text.toLowerCase()).toContain('voiture');
      await expect.poll(() => page.locator(`tr[data-testid="utterance-${first.utteranceId}"]`).getAttribute('data-state')).toBe('emitted');
      for (const s of ['speech', 'decoding', 'postprocessing', 'emitted']) {
        expect(await page.locator(`[data-testid="utt-${first.utteranceId}-state-${s}"]`).getAttribute('class')).toContain('visited');
      }
      // Latency: every stage has a number, and the total is the final's own endOfSpeechToFinalMs.
      const latency = page.locator(`[data-testid="latency-${first.utteranceId}"]`);
      await latency.locator('[data-stage="total"]').waitFor();
      for (const stage of ['vad', 'queue', 'encoder', 'decoder', 'post']) {
        expect(await latency.locator(`[data-stage="${stage}"]`).textContent()).toMatch(new RegExp(`^${stage} \\d+`, 'u'));
      }
      expect(await latency.locator('[data-stage="total"]').textContent()).toBe(`total ${Math.round(first.timings.endOfSpeechToFinalMs!)}`);

      await page.locator('[data-testid="state-supervisor.drained"].current').waitFor();
      await expect.poll(async () => Number(await page.locator('[data-testid="level-strip"]').getAttribute('data-points'))).toBeGreaterThan(20);
      await expect.poll(() => page.locator('[data-testid="counter-finals"]').textContent()).toBe(String(finals.length));
      // Greedy finals (beam 1) have no beam to narrow: the counter shows 0 and no row says otherwise.
      expect(await page.locator('[data-testid="counter-beamNarrowedFinals"]').textContent()).toBe('0');
      // Partials checked the utterance's previous partial as a draft: the page shows the engine's counts.
      await expect.poll(() => page.locator('[data-testid="counter-drafts.guessed"]').textContent()).toBe(String(metrics.drafts.guessed));
      await expect.poll(() => page.locator('[data-testid="counter-drafts.accepted"]').textContent()).toBe(String(metrics.drafts.accepted));
      expect(await page.locator('[data-testid$="-notes"]', { hasText: 'beam narrowed' }).count()).toBe(0);
      expect(await page.locator('[data-testid="timeline"] li[data-kind="command"]').count()).toBeGreaterThan(0);
      expect(await page.locator('[data-testid="timeline"] li[data-kind="output"]', { hasText: first.text }).count()).toBeGreaterThan(0);

      // The filter hides a kind and brings it back.
      await page.locator('[data-testid="filter-command"]').uncheck();
      expect(await page.locator('[data-testid="timeline"] li[data-kind="command"]:not(.hidden)').count()).toBe(0);
      await page.locator('[data-testid="filter-command"]').check();
      expect(await page.locator('[data-testid="timeline"] li[data-kind="command"]:not(.hidden)').count()).toBeGreaterThan(0);

      const shot = path.join(dir, 'inspector.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      expect(png.length).toBeGreaterThan(10_000);
      expect(png.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);

      // Offline: the page fetched nothing but this server.
      const origin = new URL(inspector.url).origin;
      expect(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'))).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await engine?.close();
      await inspector?.close();
      await browser.close();
    }
  });
});
