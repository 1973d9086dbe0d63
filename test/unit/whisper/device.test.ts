import { describe, expect, it } from 'vitest';
import { formatDevice, parseDevice } from '../../../src/whisper/device.js';

describe('parseDevice', () => {
  it.each([
    ['cpu', { kind: 'cpu' }],
    ['CPU', { kind: 'cpu' }],
    ['cuda', { kind: 'cuda', index: 0 }],
    ['cuda:0', { kind: 'cuda', index: 0 }],
    ['cuda:3', { kind: 'cuda', index: 3 }],
    [' cuda:1 ', { kind: 'cuda', index: 1 }],
  ])('%s', (spec, expected) => {
    expect(parseDevice(spec)).toEqual(expected);
  });

  it.each(['tpu', 'gpu', 'cuda1', 'cuda:', 'cuda:-1', 'cuda:x', '', 'cpu:0'])('rejects %j with STT_DEVICE_UNKNOWN', (spec) => {
    expect(() => parseDevice(spec)).toThrow(expect.objectContaining({ code: 'STT_DEVICE_UNKNOWN' }));
  });

  it('accepts parsed devices and rejects malformed ones', () => {
    expect(parseDevice({ kind: 'cuda', index: 2 })).toEqual({ kind: 'cuda', index: 2 });
    expect(() => parseDevice({ kind: 'cuda', index: -1 })).toThrow(expect.objectContaining({ code: 'STT_DEVICE_UNKNOWN' }));
  });

  it('formats back', () => {
    expect(formatDevice({ kind: 'cpu' })).toBe('cpu');
    expect(formatDevice(parseDevice('cuda'))).toBe('cuda:0');
  });
});
