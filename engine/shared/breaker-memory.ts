/**
 * One guarded upstream's state in a SharedArrayBuffer, so every worker counts against the same
 * limits, sees the same ejections and the same circuits (DESIGN.md: "circuit-breaker counters
 * are atomics shared by all workers").
 *
 *   Int32  cluster:  C_* cells (Envoy's resource counts, overflow and ejection counters)
 *   Int32  per host: H_* cells
 *   Int32  per circuit: K_* cells, then its window (count: one cell a call; time: 4 a second)
 *   Float64 per host: when it was last ejected and released; per circuit: when it last opened
 *
 * Times are wall-clock epoch ms: performance.now() has a different origin in every thread.
 * A Float64 time is written by the one thread that won the CAS of the state it goes with, and
 * read after an Atomics load of that state, which orders it.
 */
import type { UpstreamConfig, UpstreamGuard } from '../config/http-types.ts';

export const C = {
  CX: 0,
  PENDING: 1,
  RQ: 2,
  RETRIES: 3,
  CX_OVERFLOW: 4,
  PENDING_OVERFLOW: 5,
  RETRY_OVERFLOW: 6,
  EJECTIONS_ACTIVE: 7,
  EJECTIONS_ENFORCED: 8,
  EJECTIONS_OVERFLOW: 9,
  DETECTED_5XX: 10,
  ENFORCED_5XX: 11,
  DETECTED_GATEWAY: 12,
  ENFORCED_GATEWAY: 13,
  DETECTED_LOCAL: 14,
  ENFORCED_LOCAL: 15,
  DETECTED_SUCCESS_RATE: 16,
  ENFORCED_SUCCESS_RATE: 17,
  DETECTED_FAILURE_PERCENT: 18,
  ENFORCED_FAILURE_PERCENT: 19,
  NO_HEALTHY: 20,
  PANIC: 21,
} as const;
const C_CELLS = 22;

export const H = {
  CX: 0,
  RQ: 1,
  CONSECUTIVE_5XX: 2,
  CONSECUTIVE_GATEWAY: 3,
  CONSECUTIVE_LOCAL: 4,
  EJECTED: 5,
  TIMES_EJECTED: 6,
  BACKOFF: 7,
  /** This interval's requests and failures, for the success-rate and failure-percentage detectors. */
  INTERVAL_TOTAL: 8,
  INTERVAL_FAILED: 9,
} as const;
const H_CELLS = 10;

export const K = {
  STATE: 0,
  /** Bumped on every transition: an outcome of a call let in under an older state is not counted. */
  GENERATION: 1,
  PROBES_LEFT: 2,
  PROBES_DONE: 3,
  PROBES_FAILED: 4,
  PROBES_SLOW: 5,
  TO_OPEN: 6,
  TO_HALF_OPEN: 7,
  TO_CLOSED: 8,
  REJECTED: 9,
  /** Count window: next slot. */
  HEAD: 10,
  CALLS: 11,
  FAILED: 12,
  SLOW: 13,
} as const;
const K_CELLS = 14;

export const CLOSED = 0;
export const OPEN = 1;
export const HALF_OPEN = 2;
export type CircuitState = typeof CLOSED | typeof OPEN | typeof HALF_OPEN;
export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;

/** A time window keeps one bucket a second: [second, calls, failed, slow]. */
export const BUCKET_CELLS = 4;

export interface BreakerLayout {
  readonly hosts: number;
  /** 0: no classic breaker. */
  readonly circuits: number;
  readonly window: { readonly kind: 'count' | 'time'; readonly size: number };
}

function windowCells(layout: BreakerLayout): number {
  if (layout.circuits === 0) return 0;
  return layout.window.kind === 'count' ? layout.window.size : layout.window.size * BUCKET_CELLS;
}

function int32Cells(layout: BreakerLayout): number {
  return C_CELLS + layout.hosts * H_CELLS + layout.circuits * (K_CELLS + windowCells(layout));
}

/** The shape of an upstream's breaker memory. */
export function guardLayout(upstream: UpstreamConfig, guard: UpstreamGuard): BreakerLayout {
  const breaker = guard.breaker;
  return {
    hosts: upstream.servers.length,
    circuits: breaker === null ? 0 : breaker.scope === 'host' ? upstream.servers.length : 1,
    window: breaker?.window ?? { kind: 'count', size: 1 },
  };
}

export function allocateBreaker(layout: BreakerLayout): SharedArrayBuffer {
  const ints = int32Cells(layout);
  // Float64s start on an 8-byte boundary.
  const floatsAt = Math.ceil((ints * 4) / 8) * 8;
  return new SharedArrayBuffer(floatsAt + (layout.hosts * 2 + layout.circuits) * 8);
}

/** Epoch ms, the same in every thread. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/** A view of one upstream's breaker memory; any thread may hold one. */
export class BreakerMemory {
  readonly sab: SharedArrayBuffer;
  readonly layout: BreakerLayout;
  readonly cells: Int32Array;
  readonly times: Float64Array;
  readonly #circuitStride: number;
  readonly #circuitsAt: number;

  constructor(sab: SharedArrayBuffer, layout: BreakerLayout) {
    this.sab = sab;
    this.layout = layout;
    const ints = int32Cells(layout);
    this.cells = new Int32Array(sab, 0, ints);
    const floatsAt = Math.ceil((ints * 4) / 8) * 8;
    this.times = new Float64Array(sab, floatsAt, layout.hosts * 2 + layout.circuits);
    this.#circuitStride = K_CELLS + windowCells(layout);
    this.#circuitsAt = C_CELLS + layout.hosts * H_CELLS;
  }

  /** Whether a buffer made for `other` can be kept on reload (same shape). */
  fits(other: BreakerLayout): boolean {
    const l = this.layout;
    return (
      l.hosts === other.hosts &&
      l.circuits === other.circuits &&
      l.window.kind === other.window.kind &&
      l.window.size === other.window.size
    );
  }

  /** Index of a cluster cell. */
  c(cell: number): number {
    return cell;
  }

  /** Index of a host's cell. */
  h(host: number, cell: number): number {
    return C_CELLS + host * H_CELLS + cell;
  }

  /** Index of a circuit's cell. */
  k(circuit: number, cell: number): number {
    return this.#circuitsAt + circuit * this.#circuitStride + cell;
  }

  /** Index of a circuit's first window cell. */
  windowAt(circuit: number): number {
    return this.#circuitsAt + circuit * this.#circuitStride + K_CELLS;
  }

  load(index: number): number {
    return Atomics.load(this.cells, index);
  }

  add(index: number, delta: number): number {
    return Atomics.add(this.cells, index, delta);
  }

  /** Adds one unless that would pass `limit`; true when added. Strict across threads. */
  acquire(index: number, limit: number): boolean {
    const cells = this.cells;
    for (;;) {
      const v = Atomics.load(cells, index);
      if (v >= limit) return false;
      if (Atomics.compareExchange(cells, index, v, v + 1) === v) return true;
    }
  }

  /** Takes one from a positive count; true when taken (a permit). */
  acquireDown(index: number): boolean {
    const cells = this.cells;
    for (;;) {
      const v = Atomics.load(cells, index);
      if (v <= 0) return false;
      if (Atomics.compareExchange(cells, index, v, v - 1) === v) return true;
    }
  }

  release(index: number): void {
    Atomics.sub(this.cells, index, 1);
  }

  ejectedAt(host: number): number {
    return this.times[host * 2];
  }

  setEjectedAt(host: number, ms: number): void {
    this.times[host * 2] = ms;
  }

  /** 0: never released. */
  releasedAt(host: number): number {
    return this.times[host * 2 + 1];
  }

  setReleasedAt(host: number, ms: number): void {
    this.times[host * 2 + 1] = ms;
  }

  openedAt(circuit: number): number {
    return this.times[this.layout.hosts * 2 + circuit];
  }

  setOpenedAt(circuit: number, ms: number): void {
    this.times[this.layout.hosts * 2 + circuit] = ms;
  }

  isEjected(host: number): boolean {
    return Atomics.load(this.cells, this.h(host, H.EJECTED)) !== 0;
  }
}
