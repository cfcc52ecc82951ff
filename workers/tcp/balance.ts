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
  #rrKey: number | string = -1;
  #rrOrder: { first: number[]; steady: number[] } = { first: [], steady: [] };
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
    const key = candidateKey(c);
    if (key !== this.#rrKey) {
      this.#rrKey = key;
      this.#rrOrder = weightedOrder(c, (s) => this.config.servers[s].weight);
    }
    const { first, steady } = this.#rrOrder;
    const turn = this.memory.nextTurn();
    const n = steady.length;
    for (let k = 0; k < n; k++) {
      const t = turn + k;
      const s = t < n ? first[t] : steady[(t - n) % n];
      if (this.#take(s)) return s;
    }
    return ALL_FULL;
  }

  /**
   * Fewest sessions per weight; ties to the server whose count changed least recently, as in
   * HAProxy's leastconn tree (a server is queued behind its equals whenever its count changes).
   * Scans rather than sorts: nothing is allocated per session.
   */
  #leastconn(c: number[]): number {
    const servers = this.config.servers;
    const m = this.memory;
    // Tried candidates as bits: past 31 candidates the last ones are not retried when full.
    let tried = 0;
    for (let round = 0; round < Math.min(c.length, 31); round++) {
      let best = -1;
      let bestLoad = 0;
      let bestTie = 0;
      for (let i = 0; i < c.length; i++) {
        if (i < 31 && (tried & (1 << i)) !== 0) continue;
        const s = c[i];
        const load = m.current(s) / servers[s].weight;
        const tie = m.lastChange(s);
        if (best < 0 || load < bestLoad || (load === bestLoad && tie < bestTie)) {
          best = i;
          bestLoad = load;
          bestTie = tie;
        }
      }
      if (this.#take(c[best])) return c[best];
      tried |= 1 << best;
    }
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

/** A set of server indexes as one value: a bit mask while they fit in 31 bits. */
function candidateKey(c: readonly number[]): number | string {
  let key = 0;
  for (const s of c) {
    if (s > 30) return c.join(',');
    key |= 1 << s;
  }
  return key;
}

/**
 * HAProxy's weighted round-robin order (lb_fwrr): servers join the rotation heaviest first, one
 * per position, unless a server already in it is due; a server is due again total/weight
 * positions after it was last due; ties go to the heavier server, then the earlier one. Returns the
 * first cycle (the servers joining) and the steady cycle after it, each `total` long.
 */
export function weightedOrder(
  servers: readonly number[],
  weight: (s: number) => number,
): { first: number[]; steady: number[] } {
  const total = servers.reduce((n, s) => n + weight(s), 0);
  const waiting = [...servers].sort((a, b) => weight(b) - weight(a) || a - b);
  const due = new Map<number, number>();
  const out: number[] = [];
  for (let p = 0; p < 2 * total; p++) {
    let best = -1;
    for (const [s, at] of due) {
      const b = due.get(best);
      if (
        best < 0 ||
        at < (b as number) ||
        (at === b && (weight(s) > weight(best) || (weight(s) === weight(best) && s < best)))
      )
        best = s;
    }
    if ((best < 0 || (due.get(best) as number) > p) && waiting.length > 0)
      best = waiting.shift() as number;
    due.set(best, (due.get(best) ?? p) + total / weight(best));
    out.push(best);
  }
  return { first: out.slice(0, total), steady: out.slice(total) };
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
