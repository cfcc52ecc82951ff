import type { TcpBackendConfig } from '../../../engine/config/tcp-types.ts';
import { type BackendMemory, DOWN, READY } from '../../../engine/shared/tcp-memory.ts';
import { FirstAvailable, serverIds } from './first.ts';
import { FastWeightedLeastConn } from './fwlc.ts';
import { FastWeightedRoundRobin } from './fwrr.ts';
import { sourceHash, WeightMap } from './map.ts';
import type { Picker, ServerSlots } from './slots.ts';

export { ALL_FULL, NO_SERVER } from './slots.ts';

/**
 * Picks a server for a new session and takes a slot on it, reading health, admin state and
 * session counts from the backend's shared memory: what every worker sees, so leastconn and
 * maxconn hold across the process. The algorithms are HAProxy's (workers/tcp/balance/); the
 * roundrobin and leastconn orders live in the backend's shared balancing memory, so they are
 * process-wide too. One per backend per worker.
 */
export class Balancer implements ServerSlots {
  readonly config: TcpBackendConfig;
  readonly memory: BackendMemory;
  readonly #worker: number;
  readonly #limits: Int32Array;
  readonly #algorithm: Picker;
  /** leastconn only: a slot taken or given back outside a pick repositions the server. */
  readonly #leastconn: FastWeightedLeastConn | null;

  constructor(config: TcpBackendConfig, memory: BackendMemory, worker: number) {
    this.config = config;
    this.memory = memory;
    this.#worker = worker;
    this.#limits = Int32Array.from(config.servers, (s) => s.maxconn ?? 0);
    const weights = config.servers.map((s) => s.weight);
    const backup = config.servers.map((s) => s.backup);
    const all = config.allBackups;
    const cells = memory.balance;
    this.#leastconn =
      config.balance === 'leastconn'
        ? new FastWeightedLeastConn(cells, weights, backup, all, worker)
        : null;
    this.#algorithm =
      this.#leastconn ??
      (config.balance === 'source'
        ? new WeightMap(weights, backup, all)
        : config.balance === 'first'
          ? new FirstAvailable(serverIds(config.servers.map((s) => s.id)), backup, all)
          : new FastWeightedRoundRobin(cells, weights, backup, all, worker));
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

  hasSlot(s: number): boolean {
    const limit = this.#limits[s];
    return limit === 0 || this.memory.current(s) < limit;
  }

  reserve(s: number): boolean {
    return this.memory.reserve(s, this.#limits[s], this.#worker);
  }

  current(s: number): number {
    return this.memory.current(s);
  }

  /**
   * A server with a slot taken on it, or NO_SERVER / ALL_FULL. `avoid` (a server that just
   * failed) is taken only when no other can be (`source` ignores it, as HAProxy's map does).
   * `hash`: the client's, from hashOf.
   */
  pick(avoid: number, hash: number): number {
    return this.#algorithm.pick(this, avoid, hash);
  }

  /** The client's hash for `pick`: its address under `balance source`, else unused (0). */
  hashOf(client: { peerAddress(): string }): number {
    return this.config.balance === 'source' ? sourceHash(client.peerAddress()) : 0;
  }

  /**
   * Every usable server is at its maxconn (and there is one): a pick would only walk the order,
   * which HAProxy does not do for sessions already queued.
   */
  allFull(): boolean {
    let any = false;
    for (let s = 0; s < this.#limits.length; s++) {
      if (!this.usable(s)) continue;
      if (this.hasSlot(s)) return false;
      any = true;
    }
    return any;
  }

  /** Takes a slot on `s` if it has one (a retry on the same server). */
  take(s: number): boolean {
    if (!this.usable(s) || !this.reserve(s)) return false;
    this.#leastconn?.moved(s);
    return true;
  }

  release(s: number): void {
    this.memory.release(s, this.#worker);
    this.#leastconn?.moved(s);
  }
}
