/**
 * What the control plane keeps for the HTTP role: the upstream peers' passive health and
 * connection counts in one SharedArrayBuffer every worker balances over (nginx keeps these per
 * worker process; legate shares them). A reload keeps a peer's failures when its upstream still
 * lists the same servers in the same order.
 */
import type { HttpConfig, UpstreamConfig } from '../config/http-types.ts';
import { type GuardState, guardBuffers, guardStates } from '../health/guard-state.ts';
import type { Logger } from '../log.ts';
import { type BreakerJson, breakerJson, breakerPrometheus } from '../metrics/breaker-stats.ts';
import { allocateHttpPeers, HttpPeerHealth, peerOffsets } from '../shared/http-peers-memory.ts';
import type { HttpShared } from '../supervisor/protocol.ts';

/** The servers of an upstream as the peer table lays them out: what a kept entry must match. */
function layout(u: UpstreamConfig): string {
  return JSON.stringify(u.servers.map((s) => [s.name, s.host, s.port, s.backup]));
}

export class HttpRole {
  readonly config: HttpConfig;
  readonly peers: SharedArrayBuffer;
  readonly health: HttpPeerHealth;
  /** The breaker's state per guarded upstream: kept from `previous` where it fits. */
  readonly guards: Map<string, GuardState>;

  /** `workers`: the data-plane threads, each with its share of the connection and breaker counts. */
  constructor(config: HttpConfig, workers: number, previous?: HttpRole) {
    this.config = config;
    this.guards = guardStates(config, workers, previous?.guards);
    const { offsets, total } = peerOffsets(config.upstreams);
    const old = previous === undefined ? null : peerOffsets(previous.config.upstreams);
    const same =
      previous !== undefined &&
      old !== null &&
      old.total === total &&
      previous.health.workers === workers &&
      config.upstreams.length === previous.config.upstreams.length &&
      config.upstreams.every(
        (u, i) =>
          previous.config.upstreams[i].name === u.name &&
          layout(previous.config.upstreams[i]) === layout(u),
      );
    if (same) {
      // Requests of the old generation release their connections into this same table.
      this.peers = previous.peers;
      this.health = previous.health;
      return;
    }
    this.peers = allocateHttpPeers(total, workers, previous?.health.epochMs);
    this.health = new HttpPeerHealth(this.peers);
    if (previous === undefined || old === null) return;
    const before = new Map(previous.config.upstreams.map((u, i) => [u.name, i]));
    for (const [i, u] of config.upstreams.entries()) {
      const j = before.get(u.name);
      if (j === undefined || layout(previous.config.upstreams[j]) !== layout(u)) continue;
      for (let p = 0; p < u.servers.length; p++)
        this.health.adoptFailures(previous.health, old.offsets[j] + p, offsets[i] + p);
    }
  }

  /**
   * A worker died: the upstream connections it held are no longer counted (max_conns,
   * least_conn), nor its connections, requests and retries in the breakers' limits, and its
   * half-open probes go back as permits.
   */
  workerDied(worker: number): void {
    this.health.forgetWorker(worker);
    for (const g of this.guards.values()) g.mem.forgetWorker(worker);
  }

  get shared(): HttpShared {
    return { peers: this.peers, guards: guardBuffers(this.guards) };
  }

  /**
   * Starts the outlier detectors' interval timers, here on the main thread (see GuardState).
   * On a reload, close the previous role first: its states may share memory with these.
   */
  start(log: Logger): void {
    for (const g of this.guards.values()) g.start(log);
  }

  close(): void {
    for (const g of this.guards.values()) g.stop();
  }

  breakersJson(): BreakerJson[] {
    const now = Date.now();
    return [...this.guards.values()].map((g) => breakerJson(g, now));
  }

  breakersPrometheus(): string {
    return this.guards.size === 0 ? '' : breakerPrometheus([...this.guards.values()], Date.now());
  }
}
