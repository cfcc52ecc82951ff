/**
 * One guarded upstream's state in a SharedArrayBuffer, so every worker counts against the same
 * limits, sees the same ejections and the same circuits (DESIGN.md: "circuit-breaker counters
 * are atomics shared by all workers").
 *
 *   Float64 per host: when it was last ejected and released; per circuit: when it last opened
 *   Int32  cluster:  C_* cells (Envoy's resource counts, overflow and ejection counters)
 *   Int32  per host: H_* cells
 *   Int32  per circuit: K_* cells, then its window (count: one cell a call; time: 4 a second)
 *   Int32  per worker: its shares of the counts a request holds (C.CX, C.PENDING, C.RQ,
 *          C.RETRIES, each host's H.CX and H.RQ) and of each circuit's half-open probes, so the
 *          main thread can give back what a worker held when it died (forgetWorker)
 *
 * The worker count is not in the layout: it is what the buffer has room for, so a worker reads
 * it from the buffer the main thread made.
 * Times are wall-clock epoch ms: performance.now() has a different origin in every thread.
 * A Float64 time is written by the one thread that won the CAS of the state it goes with, and
 * read after an Atomics load of that state, which orders it.
 */
import type { UpstreamConfig, UpstreamGuard } from '../config/http-types.ts';
import { forgetShare, giveSlot, takeSlot } from './worker-shares.ts';

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

/** The counts a worker keeps a share of: C.CX … C.RETRIES (0–3), and per host H.CX, H.RQ (0–1). */
export type HeldCount = typeof C.CX | typeof C.PENDING | typeof C.RQ | typeof C.RETRIES;
export type HeldHostCount = typeof H.CX | typeof H.RQ;
const HELD_C = [C.CX, C.PENDING, C.RQ, C.RETRIES] as const;
const HELD_H = [H.CX, H.RQ] as const;

/** A limit no Int32 count reaches: take() counts without a limit. */
export const UNLIMITED = 0x7fff_ffff;

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

function countCells(layout: BreakerLayout): number {
  return C_CELLS + layout.hosts * H_CELLS + layout.circuits * (K_CELLS + windowCells(layout));
}

/** One worker's shares: the cluster's held counts, each host's, each circuit's probes. */
function shareCells(layout: BreakerLayout): number {
  return HELD_C.length + layout.hosts * HELD_H.length + layout.circuits;
}

function floatCells(layout: BreakerLayout): number {
  return layout.hosts * 2 + layout.circuits;
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

/** `workers`: the data-plane threads, each with its shares. Float64s first: 8-byte aligned. */
export function allocateBreaker(layout: BreakerLayout, workers: number): SharedArrayBuffer {
  const ints = countCells(layout) + workers * shareCells(layout);
  return new SharedArrayBuffer(floatCells(layout) * 8 + ints * 4);
}

/** Epoch ms, the same in every thread. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/** A view of one upstream's breaker memory; any thread may hold one. */
export class BreakerMemory {
  readonly sab: SharedArrayBuffer;
  readonly layout: BreakerLayout;
  /** The workers the buffer keeps shares for. */
  readonly workers: number;
  readonly cells: Int32Array;
  readonly times: Float64Array;
  readonly #circuitStride: number;
  readonly #circuitsAt: number;
  /** Where this view's worker's shares start in `cells`. */
  readonly #mine: number;

  /** `worker`: whose shares this view's take and give keep (the main thread takes none). */
  constructor(sab: SharedArrayBuffer, layout: BreakerLayout, worker = 0) {
    this.sab = sab;
    this.layout = layout;
    const floats = floatCells(layout);
    this.times = new Float64Array(sab, 0, floats);
    this.cells = new Int32Array(sab, floats * 8);
    const counts = countCells(layout);
    this.workers = (this.cells.length - counts) / shareCells(layout);
    if (!Number.isInteger(this.workers) || this.workers < 1)
      throw new RangeError('the buffer does not have the breaker layout it is read with');
    if (worker < 0 || worker >= this.workers)
      throw new RangeError(`worker ${worker} is not one of the breaker memory's ${this.workers}`);
    this.#circuitStride = K_CELLS + windowCells(layout);
    this.#circuitsAt = C_CELLS + layout.hosts * H_CELLS;
    this.#mine = counts + worker * shareCells(layout);
  }

  /** Whether a buffer made for `other` and `workers` can be kept on reload (same shape). */
  fits(other: BreakerLayout, workers: number): boolean {
    const l = this.layout;
    return (
      this.workers === workers &&
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

  /**
   * Takes one of a cluster count's slots unless that would pass `limit` (Envoy: a threshold of
   * 0 admits none; UNLIMITED or more: no limit), in this worker's share; true when taken.
   * Strict across threads: the check and the increment are one compare-and-swap.
   */
  take(cell: HeldCount, limit: number): boolean {
    return this.#take(cell, this.#mine + cell, limit);
  }

  /** Gives back a slot take() gave. */
  give(cell: HeldCount): void {
    giveSlot(this.cells, cell, this.#mine + cell);
  }

  /** take() for a host's count. */
  takeHost(host: number, cell: HeldHostCount, limit: number): boolean {
    return this.#take(this.h(host, cell), this.#hostShare(this.#mine, host, cell), limit);
  }

  giveHost(host: number, cell: HeldHostCount): void {
    giveSlot(this.cells, this.h(host, cell), this.#hostShare(this.#mine, host, cell));
  }

  #take(count: number, share: number, limit: number): boolean {
    return limit > 0 && takeSlot(this.cells, count, share, limit >= UNLIMITED ? 0 : limit) >= 0;
  }

  /** Where, in the shares starting at `shares`, a host's count's share is. */
  #hostShare(shares: number, host: number, cell: HeldHostCount): number {
    return shares + HELD_C.length + host * HELD_H.length + cell;
  }

  /** Where, in the shares starting at `shares`, a circuit's probes' share is. */
  #probeShare(shares: number, circuit: number): number {
    return shares + HELD_C.length + this.layout.hosts * HELD_H.length + circuit;
  }

  /**
   * Takes one of a half-open circuit's probe permits; true when taken. This worker's share goes
   * up first and down after the probe ended (probeEnded): a worker that dies in between has
   * its share given back as permits, never fewer than it held.
   */
  takeProbe(circuit: number): boolean {
    const cells = this.cells;
    const at = this.k(circuit, K.PROBES_LEFT);
    const share = this.#probeShare(this.#mine, circuit);
    Atomics.add(cells, share, 1);
    for (;;) {
      const v = Atomics.load(cells, at);
      if (v <= 0) break;
      if (Atomics.compareExchange(cells, at, v, v - 1) === v) return true;
    }
    Atomics.sub(cells, share, 1);
    return false;
  }

  /** A probe takeProbe let in has answered, or was given back: this worker holds it no more. */
  probeEnded(circuit: number): void {
    Atomics.sub(this.cells, this.#probeShare(this.#mine, circuit), 1);
  }

  /**
   * Main thread: `worker` died. The connections, pending and active requests and retries it
   * held are taken off the counts, and its half-open probes, which will never answer, go back
   * as permits: the circuit would otherwise wait for them in half-open for ever.
   */
  forgetWorker(worker: number): void {
    const cells = this.cells;
    const layout = this.layout;
    const shares = countCells(layout) + worker * shareCells(layout);
    for (const cell of HELD_C) forgetShare(cells, cell, shares + cell);
    for (let host = 0; host < layout.hosts; host++)
      for (const cell of HELD_H)
        forgetShare(cells, this.h(host, cell), this.#hostShare(shares, host, cell));
    for (let circuit = 0; circuit < layout.circuits; circuit++) {
      const held = Atomics.exchange(cells, this.#probeShare(shares, circuit), 0);
      // A probe holds the circuit in this half-open until it answers, so these are its permits.
      if (held > 0 && Atomics.load(cells, this.k(circuit, K.STATE)) === HALF_OPEN)
        Atomics.add(cells, this.k(circuit, K.PROBES_LEFT), held);
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
