/**
 * Per-pool server health in a SharedArrayBuffer, updated with Atomics by every worker, so that a
 * shard's failures count across the whole process and every worker agrees on its state.
 *
 *   Int32 per server: [FAILURES, STATE, EJECTED_AT, EJECTS]
 *
 * FAILURES counts consecutive failures (any good reply resets it); STATE is written only by the
 * main thread, which owns ejection and re-admission; EJECTED_AT is Unix seconds of the last
 * ejection (twemproxy's `server_ejected_at`), EJECTS how many times it was ejected.
 */
const STRIDE = 4;
const FAILURES = 0;
const STATE = 1;
const EJECTED_AT = 2;
const EJECTS = 3;

export const LIVE = 0;
export const EJECTED = 1;
export type ServerState = typeof LIVE | typeof EJECTED;

export function allocateHealth(servers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(1, servers) * STRIDE * 4);
}

/** A view any thread can hold; workers record outcomes, the main thread also changes state. */
export class HealthTable {
  readonly sab: SharedArrayBuffer;
  readonly #cells: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.#cells = new Int32Array(sab);
  }

  /** Counts a failure; returns the consecutive count including this one. */
  recordFailure(server: number): number {
    return Atomics.add(this.#cells, server * STRIDE + FAILURES, 1) + 1;
  }

  /** A good reply: the consecutive count starts over. A load first, so the common case writes nothing. */
  recordSuccess(server: number): void {
    const i = server * STRIDE + FAILURES;
    if (Atomics.load(this.#cells, i) !== 0) Atomics.store(this.#cells, i, 0);
  }

  failures(server: number): number {
    return Atomics.load(this.#cells, server * STRIDE + FAILURES);
  }

  state(server: number): ServerState {
    return Atomics.load(this.#cells, server * STRIDE + STATE) as ServerState;
  }

  ejectedAt(server: number): number {
    return Atomics.load(this.#cells, server * STRIDE + EJECTED_AT);
  }

  ejects(server: number): number {
    return Atomics.load(this.#cells, server * STRIDE + EJECTS);
  }

  /** Main thread only. */
  markEjected(server: number, nowSeconds: number): void {
    Atomics.store(this.#cells, server * STRIDE + EJECTED_AT, nowSeconds);
    Atomics.add(this.#cells, server * STRIDE + EJECTS, 1);
    Atomics.store(this.#cells, server * STRIDE + STATE, EJECTED);
  }

  /** Main thread only: back in the ring with a clean slate. */
  markLive(server: number): void {
    Atomics.store(this.#cells, server * STRIDE + FAILURES, 0);
    Atomics.store(this.#cells, server * STRIDE + STATE, LIVE);
  }
}
