/**
 * Main-thread event-loop lag for the `metrics` event and /metrics. One monitor per process, not per
 * engine: every engine of a process shares the one event loop, and a server that creates an engine
 * per connection must not add a sampling timer per connection. The monitor's timer is unref'd by
 * Node, so it never keeps a process alive.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { EventLoopLag } from '../engine/events.js';

/** Sampling interval (ms): fine enough for the < 5 ms p99 target, cheap enough to leave on. */
const RESOLUTION_MS = 5;

let monitor: IntervalHistogram | null = null;

/** Starts the process-wide monitor (idempotent). Engines call it when they are created. */
export function startEventLoopMonitor(): void {
  if (monitor) return;
  monitor = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  monitor.enable();
}

/**
 * Lag since the monitor started. The histogram holds the interval between the monitor's timer
 * callbacks (resolution + lateness, in ns): the lag is that minus the resolution, never below 0.
 */
export function eventLoopLag(): EventLoopLag {
  startEventLoopMonitor();
  const h = monitor as IntervalHistogram;
  if (h.count === 0) return { meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  const lag = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 1000) / 1000);
  return { meanMs: lag(h.mean), p50Ms: lag(h.percentile(50)), p99Ms: lag(h.percentile(99)), maxMs: lag(h.max) };
}
