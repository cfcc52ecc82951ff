import type { TcpBackendConfig } from '../../engine/config/tcp-types.ts';
import { type BackendMemory, DOWN, READY } from '../../engine/shared/tcp-memory.ts';

/** No server can take a session: none is up (or all are drained / in maintenance). */
export const NO_SERVER = -1;
/** Servers are up but every one is at its maxconn: the session waits in the queue. */
export const ALL_FULL = -2;

/**
 * Picks a server for a new session and takes a slot on it, reading health, admin state and
 * session counts from the backend's shared memory: what every worker sees, so leastconn and
 * maxconn hold across the process. One per backend per worker.
 */
export class Balancer {
  readonly config: TcpBackendConfig;
  readonly memory: BackendMemory;
  readonly #worker: number;
  readonly #limits: Int32Array;
  /** The weighted round-robin order of the last candidate set (by its key). */
  #rrKey = '';
  #rrOrder: number[] = [];
  readonly #candidates: number[] = [];

  constructor(config: TcpBackendConfig, memory: BackendMemory, worker: number) {
    this.config = config;
    this.memory = memory;
    this.#worker = worker;
    this.#limits = Int32Array.from(config.servers, (s) => s.maxconn ?? 0);
  }

  /** Up, ready, with an address, and a weight to take sessions by balancing. */
  usable(s: number): boolean {
    const m = this.memory;
    return (
      m.health(s) !== DOWN &&
      m.admin(s) === READY &&
      m.addressVersion(s) > 0 &&
      m.hasAddress(s) &&
      this.config.servers[s].weight > 0
    );
  }

  isDown(s: number): boolean {
    return this.memory.health(s) === DOWN;
  }

  /** Active servers in use; backups only when none is (the first, unless allBackups). */
  #fillCandidates(): number[] {
    const c = this.#candidates;
    c.length = 0;
    const servers = this.config.servers;
    for (let s = 0; s < servers.length; s++) if (!servers[s].backup && this.usable(s)) c.push(s);
    if (c.length > 0) return c;
    for (let s = 0; s < servers.length; s++) {
      if (servers[s].backup && this.usable(s)) {
        c.push(s);
        if (!this.config.allBackups) break;
      }
    }
    return c;
  }

  /**
   * A server with a slot taken on it, or NO_SERVER / ALL_FULL. `avoid` (a server that just
   * failed) is taken only when it is the one candidate. `sourceHash`: the client address's
   * hash for `balance source`.
   */
  pick(avoid: number, sourceHash: number): number {
    const c = this.#fillCandidates();
    if (c.length === 0) return NO_SERVER;
    if (c.length > 1 && avoid >= 0) {
      const i = c.indexOf(avoid);
      if (i >= 0) c.splice(i, 1);
    }
    switch (this.config.balance) {
      case 'first':
        for (const s of c) if (this.#take(s)) return s;
        return ALL_FULL;
      case 'leastconn':
        return this.#leastconn(c);
      case 'source':
        return this.#source(c, sourceHash);
      default:
        return this.#roundrobin(c);
    }
  }

  /** Takes a slot on `s` if it has one (a retry on the same server). */
  take(s: number): boolean {
    return this.usable(s) && this.#take(s);
  }

  #take(s: number): boolean {
    return this.memory.reserve(s, this.#limits[s], this.#worker);
  }

  release(s: number): void {
    this.memory.release(s, this.#worker);
  }

  #roundrobin(c: number[]): number {
    const key = c.join(',');
    if (key !== this.#rrKey) {
      this.#rrKey = key;
      this.#rrOrder = smoothWeighted(c, (s) => this.config.servers[s].weight);
    }
    const order = this.#rrOrder;
    const turn = this.memory.nextTurn();
    for (let k = 0; k < order.length; k++) {
      const s = order[(turn + k) % order.length];
      if (this.#take(s)) return s;
    }
    return ALL_FULL;
  }

  #leastconn(c: number[]): number {
    const servers = this.config.servers;
    const turn = this.memory.nextTurn();
    // Ties go round-robin, as HAProxy's leastconn does, so equal servers share new sessions.
    const ranked = c
      .map((s, i) => ({
        s,
        load: this.memory.current(s) / servers[s].weight,
        tie: (i + turn) % c.length,
      }))
      .sort((a, b) => a.load - b.load || a.tie - b.tie);
    for (const r of ranked) if (this.#take(r.s)) return r.s;
    return ALL_FULL;
  }

  #source(c: number[], hash: number): number {
    const servers = this.config.servers;
    let total = 0;
    for (const s of c) total += servers[s].weight;
    let at = hash % total;
    let start = 0;
    for (let i = 0; i < c.length; i++) {
      at -= servers[c[i]].weight;
      if (at < 0) {
        start = i;
        break;
      }
    }
    for (let k = 0; k < c.length; k++) {
      const s = c[(start + k) % c.length];
      if (this.#take(s)) return s;
    }
    return ALL_FULL;
  }
}

/** nginx's smooth weighted round-robin, unrolled: weights 3,1 give a a b a, not a a a b. */
export function smoothWeighted(
  servers: readonly number[],
  weight: (s: number) => number,
): number[] {
  const current = servers.map(() => 0);
  const total = servers.reduce((n, s) => n + weight(s), 0);
  const order: number[] = [];
  for (let k = 0; k < total; k++) {
    let best = 0;
    for (let i = 0; i < servers.length; i++) {
      current[i] += weight(servers[i]);
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    order.push(servers[best]);
  }
  return order;
}

/** FNV-1a of the client's address text, for `balance source`. */
export function sourceHash(address: string): number {
  let h = 0x811c9dc5;
  const end = address.lastIndexOf(':');
  for (let i = 0; i < (end < 0 ? address.length : end); i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
