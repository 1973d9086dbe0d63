/** Wyoming PCM of any width, rate and channel count → 16 kHz mono Float32, cut at any byte. */
import { describe, expect, it } from 'vitest';
import { AudioConverter, parseAudioFormat, pcmToFloat32 } from '../../../src/wyoming/audio.js';
import { WyomingProtocolError } from '../../../src/errors.js';

describe('pcmToFloat32', () => {
  it('decodes unsigned 8-bit and signed 16/24/32-bit little-endian', () => {
    expect([...pcmToFloat32(Buffer.from([0, 128, 255]), 1)]).toEqual([-1, 0, 127 / 128]);
    const s16 = Buffer.alloc(4);
    s16.writeInt16LE(-32768, 0);
    s16.writeInt16LE(16384, 2);
    expect([...pcmToFloat32(s16, 2)]).toEqual([-1, 0.5]);
    const s24 = Buffer.alloc(6);
    s24.writeIntLE(-8_388_608, 0, 3);
    s24.writeIntLE(4_194_304, 3, 3);
    expect([...pcmToFloat32(s24, 3)]).toEqual([-1, 0.5]);
    const s32 = Buffer.alloc(8);
    s32.writeInt32LE(-2_147_483_648, 0);
    s32.writeInt32LE(1_073_741_824, 4);
    expect([...pcmToFloat32(s32, 4)]).toEqual([-1, 0.5]);
  });
});

describe('parseAudioFormat', () => {
  it('accepts a Wyoming format and rejects a bad one with reason bad-audio-format', () => {
    expect(parseAudioFormat({ rate: 48000, width: 2, channels: 2 }, 'audio-start')).toEqual({ rate: 48000, width: 2, channels: 2 });
    for (const bad of [{ width: 2, channels: 1 }, { rate: 16000.5, width: 2, channels: 1 }, { rate: 16000, width: 5, channels: 1 }, { rate: 16000, width: 2, channels: 0 }, { rate: 100, width: 2, channels: 1 }]) {
      try {
        parseAudioFormat(bad, 'audio-start');
        throw new Error(`accepted ${JSON.stringify(bad)}`);
      } catch (err) {
        expect(err).toBeInstanceOf(WyomingProtocolError);
        expect((err as WyomingProtocolError).details['reason']).toBe('bad-audio-format');
      }
    }
  });
});

describe('AudioConverter', () => {
  it('turns 48 kHz stereo s16 cut mid-frame into the same 16 kHz mono as one piece', async () => {
    const frames = 4800;
    const pcm = Buffer.alloc(frames * 4);
    for (let i = 0; i < frames; i++) {
      const v = Math.round(Math.sin((2 * Math.PI * 440 * i) / 48000) * 10000);
      pcm.writeInt16LE(v, 4 * i);
      pcm.writeInt16LE(v, 4 * i + 2);
    }
    const whole = await AudioConverter.create({ rate: 48000, width: 2, channels: 2 });
    const one = [...whole.push(pcm), ...whole.flush()];
    whole.close();
    const cut = await AudioConverter.create({ rate: 48000, width: 2, channels: 2 });
    const pieces: number[] = [];
    // Odd cuts: inside samples and inside frames.
    for (let at = 0; at < pcm.length; at += 333) pieces.push(...cut.push(pcm.subarray(at, Math.min(pcm.length, at + 333))));
    pieces.push(...cut.flush());
    cut.close();
    expect(one.length).toBeGreaterThanOrEqual(1599);
    expect(one.length).toBeLessThanOrEqual(1601);
    expect(pieces.length).toBe(one.length);
    for (let i = 0; i < one.length; i++) expect(pieces[i]).toBeCloseTo(one[i] as number, 5);
    // A 440 Hz tone at amplitude 10000/32768 keeps its level through the conversion.
    const peak = Math.max(...one.slice(200, 1400).map(Math.abs));
    expect(peak).toBeGreaterThan(0.28);
    expect(peak).toBeLessThan(0.33);
  });
});
