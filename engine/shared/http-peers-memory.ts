/**
 * Passive health and connection counts of HTTP upstream peers in a SharedArrayBuffer, so every
 * worker sees the failures and connections of all the others (nginx keeps these per worker
 * process unless an upstream has a `zone`; legate always shares them).
 *
 *   Float64 at byte 0: the epoch (Unix ms) that times below count from
 *   Int32 per peer:    [FAILS, CHECKED, ACCESSED, CONNS]
 *
 * FAILS, CHECKED and ACCESSED are nginx's `fails`, `checked` and `accessed`
 * (ngx_http_upstream_round_robin.c); CONNS is `conns` (max_conns, least_conn). Times are ms since
 * the epoch rather than nginx's whole seconds, so `fail_timeout` is exact to the millisecond;
 * they are compared by wrapping int32 difference, right while two times are less than 24 days
 * apart (older CHECKED values only matter for a peer failed and then never asked for since).
 * Each cell is updated with Atomics; nginx takes a lock around a peer's fields, legate lets two
 * workers race on separate cells, which at worst counts one failure window twice.
 */
import type { UpstreamConfig } from '../config/http-types.ts';

const STRIDE = 4;
const FAILS = 0;
const CHECKED = 1;
const ACCESSED = 2;
const CONNS = 3;
const HEADER_BYTES = 8;

export function allocateHttpPeers(peers: number, epochMs = Date.now()): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(HEADER_BYTES + Math.max(1, peers) * STRIDE * 4);
  new Float64Array(sab, 0, 1)[0] = epochMs;
  return sab;
}

/** A view any thread can hold; every operation is on one Int32 cell with Atomics. */
export class HttpPeerHealth {
  readonly sab: SharedArrayBuffer;
  /** Unix ms that the stored times count from. */
  readonly epochMs: number;
  readonly #cells: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.epochMs = new Float64Array(sab, 0, 1)[0];
    this.#cells = new Int32Array(sab, HEADER_BYTES);
  }

  get capacity(): number {
    return this.#cells.length / STRIDE;
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

  /** A connection was given to `peer`; starts a new check window when the last one ended. */
  acquire(peer: number, failTimeoutMs: number, now: number): void {
    const i = peer * STRIDE;
    Atomics.add(this.#cells, i + CONNS, 1);
    if (((now - Atomics.load(this.#cells, i + CHECKED)) | 0) > failTimeoutMs) {
      Atomics.store(this.#cells, i + CHECKED, now);
    }
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
    Atomics.sub(this.#cells, i + CONNS, 1);
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
    Atomics.sub(this.#cells, peer * STRIDE + CONNS, 1);
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
