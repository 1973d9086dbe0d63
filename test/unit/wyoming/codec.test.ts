/**
 * Wyoming framing: the serializer writes wyoming's layout, and the streaming parser rebuilds the
 * same events whatever the cut of the byte stream, within hard limits, and fails with a coded
 * error (details.reason) on the malformed frames a bad client sends.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEvent, StreamFrameParser } from '../../../src/wyoming/codec.js';
import { WYOMING_VERSION, type WyomingEvent } from '../../../src/wyoming/protocol.js';
import { WyomingProtocolError } from '../../../src/errors.js';

function parseAll(bytes: Buffer, cuts: readonly number[] = [], parser = new StreamFrameParser()): WyomingEvent[] {
  const events: WyomingEvent[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    events.push(...parser.push(bytes.subarray(from, cut)));
    from = cut;
  }
  events.push(...parser.push(bytes.subarray(from)));
  return events;
}

function reasonOfFailure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WyomingProtocolError);
    const e = err as WyomingProtocolError;
    expect(e.code).toBe('STT_WYOMING_PROTOCOL');
    return String(e.details['reason']);
  }
  throw new Error('expected a WyomingProtocolError');
}

const chunkEvent: WyomingEvent = {
  type: 'audio-chunk',
  data: { rate: 16000, width: 2, channels: 1, timestamp: null },
  payload: Buffer.from([1, 2, 3, 4, 0x0a, 0x7b]),
};

describe('encodeEvent', () => {
  it('writes the header line, then data_length bytes of data, then the payload, as wyoming does', () => {
    const bytes = encodeEvent(chunkEvent);
    const newline = bytes.indexOf(0x0a);
    const header = JSON.parse(bytes.subarray(0, newline).toString('utf8')) as Record<string, unknown>;
    const data = Buffer.from(JSON.stringify(chunkEvent.data));
    expect(header).toEqual({ type: 'audio-chunk', version: WYOMING_VERSION, data_length: data.length, payload_length: 6 });
    expect(bytes.subarray(newline + 1, newline + 1 + data.length).toString('utf8')).toBe(JSON.stringify(chunkEvent.data));
    expect([...bytes.subarray(newline + 1 + data.length)]).toEqual([1, 2, 3, 4, 0x0a, 0x7b]);
  });

  it('omits data_length and payload_length when there is no data or payload, and keeps UTF-8 text', () => {
    expect(encodeEvent({ type: 'transcript-stop' }).toString('utf8')).toBe(`{"type":"transcript-stop","version":"${WYOMING_VERSION}"}\n`);
    const event = parseAll(encodeEvent({ type: 'transcript', data: { text: 'Allume la lumière à 80 %' } }));
    expect(event).toEqual([{ type: 'transcript', data: { text: 'Allume la lumière à 80 %' }, payload: null }]);
  });
});

describe('StreamFrameParser', () => {
  it('rebuilds an event cut at every byte boundary (one and two cuts)', () => {
    const bytes = Buffer.concat([encodeEvent(chunkEvent), encodeEvent({ type: 'audio-stop', data: { timestamp: 3 }, payload: null })]);
    const expected = [chunkEvent, { type: 'audio-stop', data: { timestamp: 3 }, payload: null }];
    for (let a = 0; a <= bytes.length; a++) {
      expect(parseAll(bytes, [a])).toEqual(expected);
      for (let b = a; b <= bytes.length; b += 7) expect(parseAll(bytes, [a, b])).toEqual(expected);
    }
  });

  it('round-trips any sequence of events through any chunking (seeded property)', () => {
    const json = fc.jsonValue({ maxDepth: 2 });
    const event = fc.record({
      type: fc.string({ minLength: 1, maxLength: 20 }),
      data: fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 4 }),
      payload: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { nil: null }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (events, rawCuts) => {
        const bytes = Buffer.concat(events.map((e) => encodeEvent({ ...e, payload: e.payload ? Buffer.from(e.payload) : null })));
        const cuts = rawCuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1)));
        const parsed = parseAll(bytes, cuts);
        // JSON has no -0 and no undefined: compare with what JSON itself round-trips.
        expect(parsed).toEqual(events.map((e) => ({ type: e.type, data: JSON.parse(JSON.stringify(e.data)) as unknown, payload: e.payload ? Buffer.from(e.payload) : null })));
      }),
      { seed: 60606, numRuns: 300 },
    );
  });

  it('merges data_length bytes over inline header data, as wyoming reads it', () => {
    const data = Buffer.from('{"b":2,"a":3}');
    const bytes = Buffer.concat([Buffer.from(`{"type":"x","data":{"a":1,"c":4},"data_length":${data.length}}\n`), data]);
    expect(parseAll(bytes)).toEqual([{ type: 'x', data: { a: 3, b: 2, c: 4 }, payload: null }]);
    expect(parseAll(Buffer.from('{"type":"ping","data_length":0,"payload_length":null}\n'))).toEqual([{ type: 'ping', data: {}, payload: null }]);
  });

  it('reports what is left of an incomplete frame', () => {
    const parser = new StreamFrameParser();
    expect(parser.push(Buffer.from('{"type":"audio-chunk","payload_length":10}\n12345'))).toEqual([]);
    expect(parser.midFrame).toBe(true);
    expect(parser.push(Buffer.from('67890'))).toHaveLength(1);
    expect(parser.midFrame).toBe(false);
  });

  it.each([
    ['not JSON', 'hello\n', 'bad-header'],
    ['not an object', '[1,2]\n', 'bad-header'],
    ['no type', '{"data":{}}\n', 'bad-header'],
    ['empty type', '{"type":""}\n', 'bad-header'],
    ['data not an object', '{"type":"x","data":[1]}\n', 'bad-header'],
    ['negative length', '{"type":"x","payload_length":-1}\n', 'bad-length'],
    ['fractional length', '{"type":"x","data_length":1.5}\n', 'bad-length'],
    ['string length', '{"type":"x","data_length":"3"}\n', 'bad-length'],
    ['data over the limit', '{"type":"x","data_length":2000000}\n', 'data-too-long'],
    ['payload over the limit', '{"type":"x","payload_length":99999999}\n', 'payload-too-long'],
    ['data_length that does not match the data', '{"type":"x","data_length":5}\n{"a":1}\n', 'bad-data'],
    ['data that is not an object', '{"type":"x","data_length":3}\n[1]', 'bad-data'],
  ])('rejects %s', (_name, text, reason) => {
    expect(reasonOfFailure(() => new StreamFrameParser().push(Buffer.from(text)))).toBe(reason);
  });

  it('gives up on a header line longer than the limit without buffering the rest (1 MB of garbage)', () => {
    const parser = new StreamFrameParser({ maxHeaderBytes: 1024 });
    // Seeded garbage without newlines: nothing frames, and the parser must not keep it all.
    const garbage = Buffer.alloc(1024 * 1024);
    let x = 12345;
    for (let i = 0; i < garbage.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      garbage[i] = x % 255 === 0x0a ? 0x20 : x % 255;
    }
    let reason = '';
    for (let at = 0; at < garbage.length && reason === ''; at += 512) {
      try {
        parser.push(garbage.subarray(at, at + 512));
      } catch (err) {
        reason = String((err as WyomingProtocolError).details['reason']);
        expect(at).toBeLessThanOrEqual(1024);
      }
    }
    expect(reason).toBe('header-too-long');
    expect(parser.bufferedBytes).toBe(0);
    expect(reasonOfFailure(() => parser.push(Buffer.from('{"type":"ping"}\n')))).toBe('bad-header');
  });

  it('accepts a header exactly at the limit', () => {
    const header = `{"type":"x","pad":"${'a'.repeat(100)}"}`;
    const parser = new StreamFrameParser({ maxHeaderBytes: header.length });
    expect(parser.push(Buffer.from(`${header}\n`))).toHaveLength(1);
    expect(reasonOfFailure(() => new StreamFrameParser({ maxHeaderBytes: header.length - 1 }).push(Buffer.from(`${header}\n`)))).toBe('header-too-long');
  });
});
