/**
 * Device strings (`cpu`, `cuda`, `cuda:N`) ↔ the Device union. Parsing is strict so that a typo such
 * as `cuda1` or `gpu` fails loudly instead of silently running on the CPU.
 */
import { UnknownDeviceError } from '../errors.js';
import type { Device } from './types.js';

const CUDA_PATTERN = /^cuda(?::(\d{1,3}))?$/;

export function parseDevice(spec: string | Device): Device {
  if (typeof spec !== 'string') {
    if (spec.kind === 'cpu') return { kind: 'cpu' };
    if (spec.kind === 'cuda' && Number.isInteger(spec.index) && spec.index >= 0) return { kind: 'cuda', index: spec.index };
    throw new UnknownDeviceError(`Unknown device ${JSON.stringify(spec)}: expected cpu, cuda or cuda:N`, {
      device: JSON.stringify(spec),
    });
  }
  const normalized = spec.trim().toLowerCase();
  if (normalized === 'cpu') return { kind: 'cpu' };
  const match = CUDA_PATTERN.exec(normalized);
  if (match) return { kind: 'cuda', index: match[1] === undefined ? 0 : Number(match[1]) };
  throw new UnknownDeviceError(`Unknown device "${spec}": expected cpu, cuda or cuda:N`, { device: spec });
}

export function formatDevice(device: Device): string {
  return device.kind === 'cpu' ? 'cpu' : `cuda:${device.index}`;
}
