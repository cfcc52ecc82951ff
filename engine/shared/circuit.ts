import type { ClassicBreakerConfig } from '../config/http-types.ts';
import {
  type BreakerMemory,
  BUCKET_CELLS,
  type CircuitState,
  CLOSED,
  HALF_OPEN,
  K,
  OPEN,
} from './breaker-memory.ts';

/** A state between two: one thread is moving the circuit; everyone else fails fast meanwhile. */
const MOVING = 3;

const PRESENT = 1;
const FAILED = 2;
const SLOW = 4;

/** Admit's answer when the call must fail fast. */
export const REJECTED = -1;

export type Transition = (circuit: number, from: CircuitState, to: CircuitState) => void;

/**
 * The classic breaker (resilience4j's states) for every circuit of one upstream, over shared
 * memory: all workers see one state, one window, one set of half-open permits.
 *
 * CLOSED: calls pass; each outcome goes into the sliding window; once it holds minimumCalls and
 * the failure or slow-call rate reaches its threshold, → OPEN. OPEN: calls fail fast until
 * openMs has passed, then the first caller moves it → HALF_OPEN with halfOpenCalls permits
 * (taken by CAS, so exactly that many probes pass across workers). When every probe has
 * answered, their rates decide → CLOSED (window emptied) or → OPEN again. A probe that never
 * reaches the backend gives its permit back (giveBack), and so, through the main thread, do the
 * probes of a worker that died (BreakerMemory.forgetWorker).
 */
export class Circuits {
  readonly mem: BreakerMemory;
  readonly config: ClassicBreakerConfig;
  readonly #onTransition: Transition;

  constructor(mem: BreakerMemory, config: ClassicBreakerConfig, onTransition: Transition) {
    this.mem = mem;
    this.config = config;
    this.#onTransition = onTransition;
  }

  state(circuit: number): CircuitState {
    const s = this.mem.load(this.mem.k(circuit, K.STATE));
    return s === MOVING ? OPEN : (s as CircuitState);
  }

  /**
   * A ticket for one call (generation × 2, + 1 for a half-open probe), or REJECTED: the circuit
   * is open, or half-open with no permit left.
   */
  admit(circuit: number, nowMs: number): number {
    const mem = this.mem;
    const stateAt = mem.k(circuit, K.STATE);
    let state = mem.load(stateAt);
    if (state === CLOSED) return mem.load(mem.k(circuit, K.GENERATION)) * 2;
    if (state === OPEN && nowMs >= mem.openedAt(circuit) + this.config.openMs) {
      this.#move(circuit, OPEN, HALF_OPEN, nowMs);
      state = mem.load(stateAt);
    }
    if (state === HALF_OPEN) {
      // Permits exist only while the generation is their half-open's (#move), so a permit taken
      // is the half-open's of the generation read after it, or of one that has ended since.
      // Counted as a probe of that generation it is never lost to a live half-open (which would
      // strand it, rejecting every call), at worst one probe too many.
      if (mem.takeProbe(circuit)) return mem.load(mem.k(circuit, K.GENERATION)) * 2 + 1;
    }
    mem.add(mem.k(circuit, K.REJECTED), 1);
    return REJECTED;
  }

  /** An admitted call that never reached the backend (overflow): a probe's permit goes back. */
  giveBack(circuit: number, ticket: number): void {
    const mem = this.mem;
    if (ticket % 2 !== 1) return;
    if (mem.load(mem.k(circuit, K.GENERATION)) === Math.floor(ticket / 2))
      mem.add(mem.k(circuit, K.PROBES_LEFT), 1);
    mem.probeEnded(circuit);
  }

  /** The outcome of an admitted call. */
  record(
    circuit: number,
    ticket: number,
    failed: boolean,
    durationMs: number,
    nowMs: number,
  ): void {
    const mem = this.mem;
    const gen = Math.floor(ticket / 2);
    const current = mem.load(mem.k(circuit, K.GENERATION)) === gen;
    const cfg = this.config;
    const slow = cfg.slowCallMs > 0 && durationMs >= cfg.slowCallMs;
    if (ticket % 2 === 1) {
      if (current) this.#probeAnswered(circuit, failed, slow, nowMs);
      // After the answer is counted: a worker that dies in between has a permit given back (one
      // probe too many at worst), never one lost (the half-open would wait for it for ever).
      mem.probeEnded(circuit);
      return;
    }
    if (!current || mem.load(mem.k(circuit, K.STATE)) !== CLOSED) return;
    this.#count(circuit, failed, slow, nowMs);
    const [calls, fails, slows] = this.window(circuit, nowMs);
    if (calls >= cfg.minimumCalls && this.#trips(calls, fails, slows))
      this.#move(circuit, CLOSED, OPEN, nowMs);
  }

  #probeAnswered(circuit: number, failed: boolean, slow: boolean, nowMs: number): void {
    const mem = this.mem;
    if (failed) mem.add(mem.k(circuit, K.PROBES_FAILED), 1);
    if (slow) mem.add(mem.k(circuit, K.PROBES_SLOW), 1);
    const done = mem.add(mem.k(circuit, K.PROBES_DONE), 1) + 1;
    if (done !== this.config.halfOpenCalls) return;
    const trip = this.#trips(
      done,
      mem.load(mem.k(circuit, K.PROBES_FAILED)),
      mem.load(mem.k(circuit, K.PROBES_SLOW)),
    );
    this.#move(circuit, HALF_OPEN, trip ? OPEN : CLOSED, nowMs);
  }

  #trips(calls: number, failed: number, slow: number): boolean {
    const cfg = this.config;
    if (calls === 0) return false;
    return (
      (100 * failed) / calls >= cfg.failureRateThreshold ||
      (cfg.slowCallMs > 0 && (100 * slow) / calls >= cfg.slowCallRateThreshold)
    );
  }

  #count(circuit: number, failed: boolean, slow: boolean, nowMs: number): void {
    const mem = this.mem;
    const at = mem.windowAt(circuit);
    const size = this.config.window.size;
    const v = PRESENT | (failed ? FAILED : 0) | (slow ? SLOW : 0);
    if (this.config.window.kind === 'count') {
      const slot = at + ((mem.add(mem.k(circuit, K.HEAD), 1) >>> 0) % size);
      const old = Atomics.exchange(mem.cells, slot, v);
      const dCalls = 1 - (old & PRESENT);
      const dFailed = (v & FAILED) / FAILED - (old & FAILED) / FAILED;
      const dSlow = (v & SLOW) / SLOW - (old & SLOW) / SLOW;
      if (dCalls !== 0) mem.add(mem.k(circuit, K.CALLS), dCalls);
      if (dFailed !== 0) mem.add(mem.k(circuit, K.FAILED), dFailed);
      if (dSlow !== 0) mem.add(mem.k(circuit, K.SLOW), dSlow);
      return;
    }
    const second = Math.floor(nowMs / 1000) | 0;
    const bucket = at + (((second % size) + size) % size) * BUCKET_CELLS;
    const stamp = mem.load(bucket);
    // The thread that claims a stale bucket empties it; a call counted in the instant between is lost.
    if (stamp !== second && Atomics.compareExchange(mem.cells, bucket, stamp, second) === stamp) {
      Atomics.store(mem.cells, bucket + 1, 0);
      Atomics.store(mem.cells, bucket + 2, 0);
      Atomics.store(mem.cells, bucket + 3, 0);
    }
    mem.add(bucket + 1, 1);
    if (failed) mem.add(bucket + 2, 1);
    if (slow) mem.add(bucket + 3, 1);
  }

  /** [calls, failed, slow] in the window now. */
  window(circuit: number, nowMs: number): [number, number, number] {
    const mem = this.mem;
    if (this.config.window.kind === 'count')
      return [
        mem.load(mem.k(circuit, K.CALLS)),
        mem.load(mem.k(circuit, K.FAILED)),
        mem.load(mem.k(circuit, K.SLOW)),
      ];
    const size = this.config.window.size;
    const second = Math.floor(nowMs / 1000) | 0;
    const at = mem.windowAt(circuit);
    let calls = 0;
    let failed = 0;
    let slow = 0;
    for (let b = 0; b < size; b++) {
      const i = at + b * BUCKET_CELLS;
      const age = second - mem.load(i);
      if (age < 0 || age >= size || mem.load(i) === 0) continue;
      calls += mem.load(i + 1);
      failed += mem.load(i + 2);
      slow += mem.load(i + 3);
    }
    return [calls, failed, slow];
  }

  /** Moves `from` → `to` if no other thread did; the winner alone sets up the new state. */
  #move(circuit: number, from: CircuitState, to: CircuitState, nowMs: number): boolean {
    const mem = this.mem;
    const stateAt = mem.k(circuit, K.STATE);
    if (Atomics.compareExchange(mem.cells, stateAt, from, MOVING) !== from) return false;
    if (to === OPEN) {
      mem.setOpenedAt(circuit, nowMs);
      mem.add(mem.k(circuit, K.TO_OPEN), 1);
    } else if (to === HALF_OPEN) {
      Atomics.store(mem.cells, mem.k(circuit, K.PROBES_DONE), 0);
      Atomics.store(mem.cells, mem.k(circuit, K.PROBES_FAILED), 0);
      Atomics.store(mem.cells, mem.k(circuit, K.PROBES_SLOW), 0);
      mem.add(mem.k(circuit, K.TO_HALF_OPEN), 1);
    } else {
      this.#clearWindow(circuit);
      mem.add(mem.k(circuit, K.TO_CLOSED), 1);
    }
    // Permits are withdrawn before the generation moves on and handed out after: a permit is
    // only ever taken while the generation is its half-open's (admit relies on it).
    if (from === HALF_OPEN) Atomics.store(mem.cells, mem.k(circuit, K.PROBES_LEFT), 0);
    mem.add(mem.k(circuit, K.GENERATION), 1);
    if (to === HALF_OPEN)
      Atomics.store(mem.cells, mem.k(circuit, K.PROBES_LEFT), this.config.halfOpenCalls);
    Atomics.store(mem.cells, stateAt, to);
    this.#onTransition(circuit, from, to);
    return true;
  }

  #clearWindow(circuit: number): void {
    const mem = this.mem;
    const at = mem.windowAt(circuit);
    const cells =
      this.config.window.kind === 'count'
        ? this.config.window.size
        : this.config.window.size * BUCKET_CELLS;
    for (let i = 0; i < cells; i++) Atomics.store(mem.cells, at + i, 0);
    Atomics.store(mem.cells, mem.k(circuit, K.CALLS), 0);
    Atomics.store(mem.cells, mem.k(circuit, K.FAILED), 0);
    Atomics.store(mem.cells, mem.k(circuit, K.SLOW), 0);
  }

  /** When an open circuit lets its first probe through (epoch ms); 0 when not open. */
  nextProbeAt(circuit: number): number {
    return this.state(circuit) === OPEN ? this.mem.openedAt(circuit) + this.config.openMs : 0;
  }

  /** Seconds a rejected caller should wait: until the next probe, at least 1. */
  retryAfterSeconds(circuit: number, nowMs: number): number {
    const at = this.nextProbeAt(circuit);
    return Math.max(1, Math.ceil((at - nowMs) / 1000));
  }
}
