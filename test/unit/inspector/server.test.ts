/**
 * The inspector's HTTP server on real loopback sockets: the bind policy (a non-loopback address
 * without a token is a coded error raised before listening), the token on every request (query,
 * cookie, bearer), the Host check against DNS rebinding, the routes, and the SSE framing of a
 * snapshot followed by live batches.
 */
import { request, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { InspectorTokenRequiredError, SttError } from '../../../src/errors.js';
import { isLoopbackHost, startInspector, TOKEN_COOKIE, type Inspector } from '../../../src/inspector/server.js';
import { oneUtterance, ScriptedSource } from './scripted-records.js';

interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface SseFrame {
  readonly event: string | null;
  readonly data: string | null;
  readonly comment: boolean;
  readonly retry: number | null;
}

/** A real SSE reader: frames split on blank lines, fields per the EventSource spec's parsing rules. */
function openSse(port: number, path: string, headers: Record<string, string> = {}) {
  const frames: SseFrame[] = [];
  const waiters: { pred: (f: SseFrame[]) => boolean; resolve: () => void }[] = [];
  let buffer = '';
  let response: IncomingMessage | null = null;
  const ready = new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      response = res;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event: string | null = null;
          let data: string | null = null;
          let retry: number | null = null;
          let comment = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comment = true;
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data = data === null ? line.slice(6) : `${data}\n${line.slice(6)}`;
            else if (line.startsWith('retry: ')) retry = Number(line.slice(7));
            else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
          }
          frames.push({ event, data, comment, retry });
        }
        for (const w of [...waiters]) if (w.pred(frames)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
      });
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
  return {
    ready,
    frames,
    until: (pred: (f: SseFrame[]) => boolean) => (pred(frames) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ pred, resolve }))),
    close: () => (response as IncomingMessage | null)?.destroy(),
  };
}

async function withInspector(options: Parameters<typeof startInspector>[0], body: (i: Inspector) => Promise<void>): Promise<void> {
  const inspector = await startInspector({ port: 0, ...options });
  try {
    await body(inspector);
  } finally {
    await inspector.close();
  }
}

describe('inspector bind policy', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.20', '10.0.0.1', 'example.com', '128.0.0.1', '::ffff:10.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('refuses a non-loopback bind without a token, before listening', async () => {
    // 203.0.113.7 (TEST-NET-3) is not an address of this machine: listening there would fail with
    // EADDRNOTAVAIL, so this code proves the check comes first.
    for (const host of ['0.0.0.0', '::', '203.0.113.7']) {
      const err = await startInspector({ host, port: 0 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, host).toBeInstanceOf(InspectorTokenRequiredError);
      expect(err).toBeInstanceOf(SttError);
      expect((err as InspectorTokenRequiredError).code).toBe('STT_INSPECTOR_TOKEN_REQUIRED');
      expect((err as InspectorTokenRequiredError).details).toEqual({ host });
    }
  });

  it('rejects a short token and a bad port as invalid options', async () => {
    await expect(startInspector({ host: '0.0.0.0', port: 0, token: 'short' })).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
    await expect(startInspector({ port: 70_000 })).rejects.toMatchObject({ code: 'STT_INVALID_OPTION' });
  });

  it('a port in use is a coded error', async () => {
    await withInspector({}, async (first) => {
      await expect(startInspector({ port: first.port })).rejects.toMatchObject({ code: 'STT_INVALID_OPTION', details: { code: 'EADDRINUSE' } });
    });
  });
});

describe('inspector on loopback (no token)', () => {
  it('serves the page, its assets and the machine; 404, 405; strict headers', async () => {
    await withInspector({}, async (inspector) => {
      expect(inspector.url).toBe(`http://127.0.0.1:${inspector.port}/`);
      const page = await get(inspector.port, '/');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.body).toContain('data-testid="statechart"');
      expect(page.headers['content-security-policy']).toContain("default-src 'none'");
      expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
      // Offline: the page names no other origin.
      expect(page.body).not.toMatch(/https?:\/\//u);
      const js = await get(inspector.port, '/inspector.js');
      expect(js.status).toBe(200);
      expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(js.body).not.toMatch(/https?:\/\//u);
      expect((await get(inspector.port, '/inspector.css')).status).toBe(200);
      const machine = JSON.parse((await get(inspector.port, '/machine.json')).body) as { id: string; states: { key: string }[] };
      expect(machine.id).toBe('supervisor');
      expect(machine.states.map((s) => s.key)).toEqual(['starting', 'running', 'draining', 'drained', 'failed', 'closing', 'closed']);
      expect((await get(inspector.port, '/../package.json')).status).toBe(404);
      expect((await get(inspector.port, '/metrics')).status).toBe(404);
      expect((await get(inspector.port, '/', {}, 'POST')).status).toBe(405);
    });
  });

  it('refuses a request naming a foreign Host (DNS rebinding)', async () => {
    await withInspector({}, async (inspector) => {
      expect((await get(inspector.port, '/', { host: 'attacker.example' })).status).toBe(403);
      expect((await get(inspector.port, '/', { host: `localhost:${inspector.port}` })).status).toBe(200);
    });
  });

  it('serves /metrics from the provider it was given', async () => {
    const provider = { contentType: 'text/plain; version=0.0.4; charset=utf-8', render: () => Promise.resolve('stt_finals_total 3\n') };
    await withInspector({ metrics: provider }, async (inspector) => {
      const m = await get(inspector.port, '/metrics');
      expect(m.status).toBe(200);
      expect(m.headers['content-type']).toBe(provider.contentType);
      expect(m.body).toBe('stt_finals_total 3\n');
    });
  });

  it('streams a snapshot on connect, then batches, as Server-Sent Events', async () => {
    await withInspector({ batchMs: 10 }, async (inspector) => {
      const source = new ScriptedSource();
      const records = oneUtterance();
      // Half the session before the page connects, half after.
      inspector.attach(source);
      source.play(records.slice(0, 6));
      inspector.hub.flush();
      const sse = openSse(inspector.port, '/events');
      const res = await sse.ready;
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      await sse.until((f) => f.some((x) => x.event === 'snapshot'));
      expect(sse.frames[0]).toEqual({ event: null, data: null, comment: false, retry: 2000 });
      const snapshot = JSON.parse(sse.frames[1]!.data!) as { state: unknown; machine: { id: string }; recent: { seq: number }[]; utterances: { id: number; state: string }[]; droppedBatches: number };
      expect(snapshot.machine.id).toBe('supervisor');
      expect(snapshot.state).toBe('running');
      expect(snapshot.recent.map((r) => r.seq)).toEqual([0, 1, 3, 4, 5]); // seq 2 is capture progress
      expect(snapshot.utterances).toMatchObject([{ id: 1, state: 'speech' }]);
      expect(snapshot.droppedBatches).toBe(0);

      source.play(records.slice(6));
      await sse.until((f) => f.some((x) => x.event === 'batch' && x.data!.includes('"emitted"')));
      const batches = sse.frames.filter((f) => f.event === 'batch').map((f) => JSON.parse(f.data!) as { records: { seq: number }[]; utterances: { final: string | null }[] });
      const seqs = batches.flatMap((b) => b.records.map((r) => r.seq));
      // Every non-progress record after the snapshot, once, in order.
      expect(seqs).toEqual(records.slice(6).filter((r) => !(r.kind === 'event' && (r.data as { type: string }).type === 'progress')).map((r) => r.seq));
      expect(batches.at(-1)?.utterances.at(-1)?.final).toBe('Allume la lumière.');
      sse.close();
    });
  });

  it('closing the inspector ends open streams', async () => {
    const inspector = await startInspector({ port: 0 });
    const sse = openSse(inspector.port, '/events');
    const res = await sse.ready;
    const ended = new Promise<void>((resolve) => res.on('close', () => resolve()));
    await inspector.close();
    await ended;
  });
});

describe('inspector with a token', () => {
  const token = 'k3y-of-the-test-0123';

  it('binds 0.0.0.0 and wants the token on every request', async () => {
    await withInspector({ host: '0.0.0.0', token }, async (inspector) => {
      expect(inspector.url).toBe(`http://0.0.0.0:${inspector.port}/?token=${token}`);
      for (const path of ['/', '/inspector.js', '/events', '/machine.json', '/snapshot.json']) {
        expect((await get(inspector.port, path)).status, path).toBe(401);
        expect((await get(inspector.port, `${path}?token=wrong-token-0123456`)).status, path).toBe(401);
      }
      const page = await get(inspector.port, `/?token=${token}`);
      expect(page.status).toBe(200);
      // The page's EventSource then carries the token as an HttpOnly, same-site cookie.
      expect(page.headers['set-cookie']).toEqual([`${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`]);
      expect((await get(inspector.port, '/machine.json', { cookie: `${TOKEN_COOKIE}=${token}` })).status).toBe(200);
      expect((await get(inspector.port, '/machine.json', { cookie: `${TOKEN_COOKIE}=nope` })).status).toBe(401);
      expect((await get(inspector.port, '/machine.json', { authorization: `Bearer ${token}` })).status).toBe(200);
      // The token replaces the Host check: a LAN name is fine once authenticated.
      expect((await get(inspector.port, '/machine.json', { authorization: `Bearer ${token}`, host: 'assistant.lan' })).status).toBe(200);
      const sse = openSse(inspector.port, '/events', { cookie: `${TOKEN_COOKIE}=${token}` });
      expect((await sse.ready).statusCode).toBe(200);
      await sse.until((f) => f.some((x) => x.event === 'snapshot'));
      sse.close();
    });
  });
});
