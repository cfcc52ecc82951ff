/**
 * One upstream's peers as every balancer sees them (nginx's ngx_http_upstream_rr_peers_t):
 * primaries in config order, then backups. Static settings are plain typed arrays; passive health
 * and connection counts live in shared memory (engine/shared/http-peers-memory.ts) so all workers
 * agree on them; the smooth round robin's `effective_weight` and `current_weight` stay per worker,
 * as in nginx (which keeps all of it per worker process).
 */
import type { HttpPeerHealth } from '../../../engine/shared/http-peers-memory.ts';

/** What a balancer needs of one server line. */
export interface PeerSpec {
  /** The server string as written (`web-prod:80`): what `hash … consistent` hashes. */
  readonly name: string;
  /** The address the peer is reached at, `ip:port` (`[v6]:port`), as nginx names a peer: `sticky` hashes it. */
  readonly address: string;
  readonly weight: number;
  readonly maxFails: number;
  readonly failTimeoutMs: number;
  /** 0: unlimited. */
  readonly maxConns: number;
  readonly down: boolean;
  readonly backup: boolean;
}

export class PeerSet {
  /** Primaries and backups. */
  readonly count: number;
  /** Peers `0 … primaries-1` are primaries; `primaries … count-1` backups. */
  readonly primaries: number;
  readonly specs: readonly PeerSpec[];
  readonly weight: Int32Array;
  readonly maxFails: Int32Array;
  readonly failTimeoutMs: Int32Array;
  readonly maxConns: Int32Array;
  readonly down: Uint8Array;
  /** Sum of the primaries' weights, `down` ones included (so marking one down reshuffles no hash). */
  readonly totalWeight: number;
  readonly backupTotalWeight: number;
  /** One primary and no backups: nginx then skips the balancer and all failure accounting. */
  readonly single: boolean;
  readonly health: HttpPeerHealth;
  /** This upstream's first peer in `health` (one table may hold several upstreams). */
  readonly base: number;
  /** Per worker: nginx's `effective_weight` and `current_weight`. */
  readonly effectiveWeight: Int32Array;
  readonly currentWeight: Int32Array;

  constructor(specs: readonly PeerSpec[], health: HttpPeerHealth, base = 0) {
    const ordered = [...specs.filter((s) => !s.backup), ...specs.filter((s) => s.backup)];
    if (ordered.length === 0) throw new RangeError('an upstream needs at least one server');
    if (base + ordered.length > health.capacity) {
      throw new RangeError('the shared peer table is too small for this upstream');
    }
    this.specs = ordered;
    this.count = ordered.length;
    this.primaries = specs.filter((s) => !s.backup).length;
    if (this.primaries === 0)
      throw new RangeError('an upstream needs a server that is not a backup');
    this.weight = Int32Array.from(ordered, (s) => s.weight);
    this.maxFails = Int32Array.from(ordered, (s) => s.maxFails);
    this.failTimeoutMs = Int32Array.from(ordered, (s) => s.failTimeoutMs);
    this.maxConns = Int32Array.from(ordered, (s) => s.maxConns);
    this.down = Uint8Array.from(ordered, (s) => (s.down ? 1 : 0));
    let total = 0;
    for (let i = 0; i < this.primaries; i++) total += this.weight[i];
    this.totalWeight = total;
    let backupTotal = 0;
    for (let i = this.primaries; i < this.count; i++) backupTotal += this.weight[i];
    this.backupTotalWeight = backupTotal;
    this.single = this.primaries === 1 && this.count === 1;
    this.health = health;
    this.base = base;
    this.effectiveWeight = Int32Array.from(this.weight);
    this.currentWeight = new Int32Array(this.count);
  }

  /** Not down, not failed within its window, not at max_conns: nginx's three skips. */
  usable(peer: number, now: number): boolean {
    if (this.down[peer] === 1) return false;
    const h = this.base + peer;
    if (this.health.isFailed(h, this.maxFails[peer], this.failTimeoutMs[peer], now)) return false;
    const max = this.maxConns[peer];
    return max === 0 || this.health.conns(h) < max;
  }

  conns(peer: number): number {
    return this.health.conns(this.base + peer);
  }

  /**
   * The chosen peer takes a connection (nginx: `conns++`, and `checked = now` past the window);
   * false when another worker took its last one under max_conns since it was chosen.
   */
  acquire(peer: number, now: number): boolean {
    return this.health.acquire(
      this.base + peer,
      this.maxConns[peer],
      this.failTimeoutMs[peer],
      now,
    );
  }

  /**
   * The request on `peer` is over (nginx's free_peer): a failure counts, opens a fail_timeout
   * window and lowers the peer's effective weight by `weight / max_fails`; a success after the
   * window has reopened clears the failures. A single peer keeps no failure state.
   */
  release(peer: number, failed: boolean, now: number): void {
    const h = this.base + peer;
    if (this.single) {
      this.health.releaseConnection(h);
      return;
    }
    this.health.release(h, failed, now);
    if (failed) {
      const maxFails = this.maxFails[peer];
      if (maxFails !== 0) {
        const ew = this.effectiveWeight[peer] - Math.trunc(this.weight[peer] / maxFails);
        this.effectiveWeight[peer] = Math.max(ew, 0);
      }
    }
  }

  /** How many peers one request may try (nginx's `peer.tries`): the live primaries plus live backups. */
  maxTries(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.down[i] === 0) n++;
    return n;
  }

  /** `now` in the units usable/acquire/release take. */
  now(unixMs = Date.now()): number {
    return this.health.now(unixMs);
  }
}

/** Maximum peers tried by hash-like balancers before they fall back to round robin (nginx's 20). */
export const MAX_HASH_TRIES = 20;

/**
 * One request's progress through an upstream (nginx's per-request peer data): the peers tried,
 * the balancer's own retry counter and hash state, and whether it moved on to the backups.
 * Reusable: `begin` (via Balancer.begin) resets it.
 */
export class PickState {
  readonly tried: Uint8Array;
  /** The balancer's tries (ip_hash/hash/random give up after 20 and use round robin). */
  tries = 0;
  /** ip_hash: the running hash (starts at 89); hash: the sum; hash consistent: the point index. */
  hash = 0;
  /** hash: the rehash counter. */
  rehash = 0;
  /** Past the primaries, now choosing among backups. */
  backup = false;
  /** The key bytes: ip_hash's address bytes, hash's evaluated key; empty for others. */
  key: Uint8Array = EMPTY;
  /** A sticky cookie's peer (usable when looked up), or -1. */
  hint = -1;

  constructor(peers: number) {
    this.tried = new Uint8Array(peers);
  }

  reset(key: Uint8Array, hint: number): void {
    this.tried.fill(0);
    this.tries = 0;
    this.hash = 0;
    this.rehash = 0;
    this.backup = false;
    this.key = key;
    this.hint = hint;
  }
}

const EMPTY = new Uint8Array(0);

/** The request's sticky peer when it is in `[from, to)`, untried and usable (nginx's get_rr_peer_by_sid); else -1. */
export function stickyPeer(
  peers: PeerSet,
  state: PickState,
  from: number,
  to: number,
  now: number,
): number {
  const hint = state.hint;
  if (hint < from || hint >= to || state.tried[hint] === 1) return -1;
  return peers.usable(hint, now) ? hint : -1;
}

/** What every balancer offers the data plane. */
export interface Balancer {
  readonly peers: PeerSet;
  /**
   * Starts a request: `key` is what this balancer hashes (see client-key.ts for ip_hash; the
   * evaluated `hash` key as bytes; ignored by the others), `hint` a sticky peer or -1.
   */
  begin(state: PickState, key: Uint8Array, hint: number): void;
  /** The next peer to try, marked tried and holding a connection; -1: none left (502). */
  pick(state: PickState, now: number): number;
}

/** What every balancer shares: its peers, a plain `begin`, and taking the chosen peer. */
export abstract class PeerBalancer implements Balancer {
  readonly peers: PeerSet;

  constructor(peers: PeerSet) {
    this.peers = peers;
  }

  begin(state: PickState, key: Uint8Array, hint: number): void {
    state.reset(key, hint);
  }

  /** The balancing method: the peer it chooses among the untried usable ones, not yet taken; -1: none. */
  abstract choose(state: PickState, now: number): number;

  /**
   * nginx chooses and takes a peer under its zone's lock; legate chooses without one, then takes
   * the connection with compare-and-swap against max_conns. When another worker took the last
   * one in between, the peer counts as tried (nginx skips a full peer the same way) and the
   * method chooses again; every round marks one more peer tried, so this ends.
   */
  pick(state: PickState, now: number): number {
    for (;;) {
      const peer = this.choose(state, now);
      if (peer < 0) return -1;
      state.tried[peer] = 1;
      if (this.peers.acquire(peer, now)) return peer;
    }
  }
}
