/**
 * Passive health and connection counts of HTTP upstream peers in a SharedArrayBuffer, so every
 * worker sees the failures and connections of all the others (nginx keeps these per worker
 * process unless an upstream has a `zone`; legate always shares them).
 *
 *   Float64 at byte 0:   the epoch (Unix ms) that times below count from
 *   Int32 at 8, 12:      the peers and the workers the table has room for
 *   Int32 per peer:      [FAILS, CHECKED, ACCESSED, CONNS]
 *   Int32 per worker × peer: MINE (this worker's share of CONNS, to give back if it dies)
 *
 * FAILS, CHECKED and ACCESSED are nginx's `fails`, `checked` and `accessed`
 * (ngx_http_upstream_round_robin.c); CONNS is `conns` (max_conns, least_conn). Times are ms since
 * the epoch rather than nginx's whole seconds, so `fail_timeout` is exact to the millisecond;
 * they are compared by wrapping int32 difference, right while two times are less than 24 days
 * apart (older CHECKED values only matter for a peer failed and then never asked for since).
 * Each cell is updated with Atomics; nginx takes a lock around a peer's fields, legate lets two
 * workers race on separate cells, which at worst counts one failure window twice. A connection
 * is taken with compare-and-swap against `max_conns` (worker-shares.ts), so the count across
 * the process never passes it; a worker's shares are taken off when it dies (forgetWorker).
 */
import type { UpstreamConfig } from '../config/http-types.ts';
import { forgetShare, giveSlot, takeSlot } from './worker-shares.ts';

const STRIDE = 4;
const FAILS = 0;
const CHECKED = 1;
const ACCESSED = 2;
const CONNS = 3;
const HEADER_BYTES = 16;

export function allocateHttpPeers(
  peers: number,
  workers: number,
  epochMs = Date.now(),
): SharedArrayBuffer {
  const room = Math.max(1, peers);
  const sab = new SharedArrayBuffer(HEADER_BYTES + room * (STRIDE + workers) * 4);
  new Float64Array(sab, 0, 1)[0] = epochMs;
  const sizes = new Int32Array(sab, 8, 2);
  sizes[0] = room;
  sizes[1] = workers;
  return sab;
}

/** A view any thread can hold; every operation is on one Int32 cell with Atomics. */
export class HttpPeerHealth {
  readonly sab: SharedArrayBuffer;
  /** Unix ms that the stored times count from. */
  readonly epochMs: number;
  /** Peers the table has room for. */
  readonly capacity: number;
  readonly workers: number;
  readonly #cells: Int32Array;
  /** Where this view's worker's shares start in #cells. */
  readonly #mine: number;

  /** `worker`: whose share this view's acquire and release keep (the main thread takes none). */
  constructor(sab: SharedArrayBuffer, worker = 0) {
    this.sab = sab;
    this.epochMs = new Float64Array(sab, 0, 1)[0];
    const sizes = new Int32Array(sab, 8, 2);
    this.capacity = sizes[0];
    this.workers = sizes[1];
    if (worker < 0 || worker >= this.workers)
      throw new RangeError(`worker ${worker} is not one of the table's ${this.workers}`);
    this.#cells = new Int32Array(sab, HEADER_BYTES);
    this.#mine = this.capacity * STRIDE + worker * this.capacity;
  }

  /** `Date.now()` in this table's units. */
  now(unixMs = Date.now()): number {
    return (unixMs - this.epochMs) | 0;
  }

  fails(peer: number): number {
    return Atomics.load(this.#cells, peer * STRIDE + FAILS);
  }

  checked(peer: number): number {
    return Atomics.load(this.#cells, peer * STRIDE + CHECKED);
  }

  conns(peer: number): number {
    return Atomics.load(this.#cells, peer * STRIDE + CONNS);
  }

  /** nginx's test: `max_fails && fails >= max_fails && now - checked <= fail_timeout`. */
  isFailed(peer: number, maxFails: number, failTimeoutMs: number, now: number): boolean {
    if (maxFails === 0) return false;
    const i = peer * STRIDE;
    if (Atomics.load(this.#cells, i + FAILS) < maxFails) return false;
    return ((now - Atomics.load(this.#cells, i + CHECKED)) | 0) <= failTimeoutMs;
  }

  /**
   * Gives `peer` a connection if it holds fewer than `maxConns` (0: no limit) across all workers;
   * false when it is full. Starts a new check window when the last one ended.
   */
  acquire(peer: number, maxConns: number, failTimeoutMs: number, now: number): boolean {
    const i = peer * STRIDE;
    if (takeSlot(this.#cells, i + CONNS, this.#mine + peer, maxConns) < 0) return false;
    if (((now - Atomics.load(this.#cells, i + CHECKED)) | 0) > failTimeoutMs) {
      Atomics.store(this.#cells, i + CHECKED, now);
    }
    return true;
  }

  /** The request on `peer` ended: a failure counts and opens a window; a success after one clears it. */
  release(peer: number, failed: boolean, now: number): void {
    const i = peer * STRIDE;
    if (failed) {
      Atomics.add(this.#cells, i + FAILS, 1);
      Atomics.store(this.#cells, i + ACCESSED, now);
      Atomics.store(this.#cells, i + CHECKED, now);
    } else if (
      ((Atomics.load(this.#cells, i + CHECKED) - Atomics.load(this.#cells, i + ACCESSED)) | 0) >
        0 &&
      Atomics.load(this.#cells, i + FAILS) !== 0
    ) {
      Atomics.store(this.#cells, i + FAILS, 0);
    }
    giveSlot(this.#cells, i + CONNS, this.#mine + peer);
  }

  /**
   * Copies `from`'s failure state of one peer (not its connections: those are released in the
   * table they were taken from). Both tables must count from the same epoch.
   */
  adoptFailures(from: HttpPeerHealth, fromPeer: number, toPeer: number): void {
    const src = fromPeer * STRIDE;
    const dst = toPeer * STRIDE;
    for (const cell of [FAILS, CHECKED, ACCESSED])
      Atomics.store(this.#cells, dst + cell, Atomics.load(from.#cells, src + cell));
  }

  /** Only the connection count goes down (nginx's single-peer upstream keeps no failure state). */
  releaseConnection(peer: number): void {
    giveSlot(this.#cells, peer * STRIDE + CONNS, this.#mine + peer);
  }

  /** Main thread: a worker died; the connections it held are gone. */
  forgetWorker(worker: number): void {
    const shares = this.capacity * STRIDE + worker * this.capacity;
    for (let p = 0; p < this.capacity; p++)
      forgetShare(this.#cells, p * STRIDE + CONNS, shares + p);
  }
}

/** Peers each upstream takes in one shared table, in config order (for allocateHttpPeers). */
export function peerOffsets(upstreams: readonly UpstreamConfig[]): {
  readonly offsets: readonly number[];
  readonly total: number;
} {
  const offsets: number[] = [];
  let total = 0;
  for (const u of upstreams) {
    offsets.push(total);
    total += u.servers.length;
  }
  return { offsets, total };
}
