/**
 * Per-pool server health in a SharedArrayBuffer, updated with Atomics by every worker, so that a
 * shard's failures count across the whole process and every worker agrees on its state.
 *
 *   Int32 per server: [FAILURES, STATE, EJECTED_AT, EJECTS, LAST_LOSS]
 *
 * FAILURES counts consecutive failures (any good reply resets it); STATE is written only by the
 * main thread, which owns ejection and re-admission; EJECTED_AT is Unix seconds of the last
 * ejection (twemproxy's `server_ejected_at`), EJECTS how many times it was ejected; LAST_LOSS is
 * when a connection to it last failed, in 10 ms ticks, so that one event seen by every worker
 * (each loses its own connection when a shard restarts) counts as one failure, not one a worker.
 */
const STRIDE = 5;
const FAILURES = 0;
const STATE = 1;
const EJECTED_AT = 2;
const EJECTS = 3;
const LAST_LOSS = 4;
const TICK_MS = 10;
/** Connection failures closer together than this, across workers, are one failure. */
export const CONNECTION_LOSS_WINDOW_MS = 100;

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

  /**
   * A connection failed (closed, refused, errored): counts as a failure unless another worker
   * counted one for this server within CONNECTION_LOSS_WINDOW_MS. Returns the consecutive count,
   * or 0 when this loss was part of one already counted.
   */
  recordConnectionLoss(server: number, nowMs: number): number {
    const i = server * STRIDE + LAST_LOSS;
    const now = Math.floor(nowMs / TICK_MS) & 0x7fffffff;
    const last = Atomics.load(this.#cells, i);
    // Ticks wrap after ~248 days; the masked difference stays right across the wrap.
    if (last !== 0 && ((now - last) & 0x7fffffff) < CONNECTION_LOSS_WINDOW_MS / TICK_MS) return 0;
    // Of two workers racing here, only the one whose exchange lands counts the event.
    if (Atomics.compareExchange(this.#cells, i, last, now === 0 ? 1 : now) !== last) return 0;
    return this.recordFailure(server);
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
