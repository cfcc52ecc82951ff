import { Pool } from 'undici';
import type {
  HttpServerSpec,
  ProxySettings,
  UpstreamConfig,
} from '../../engine/config/http-types.ts';
import type { HttpUpstreamSnapshot } from '../../engine/metrics/http-snapshot.ts';
import type { HttpPeerHealth } from '../../engine/shared/http-peers-memory.ts';
import { createBalancer } from './balance/balancer.ts';
import { ipHashKey } from './balance/client-key.ts';
import { type Balancer, PickState } from './balance/peers.ts';
import { StickyCookies } from './balance/sticky-cookie.ts';
import { HttpServerStats, UpstreamStats } from './stats.ts';
import {
  compileValue,
  cookieValue,
  evaluate,
  type ValueTemplate,
  type VariableScope,
  type VariableSource,
} from './variables.ts';

/** How long an idle upstream connection is kept (nginx's keepalive_timeout for upstreams). */
const UPSTREAM_IDLE_MS = 60_000;

/** One server of an upstream, in one worker: its keep-alive connections and its numbers. */
export class UpstreamServer {
  readonly spec: HttpServerSpec;
  readonly pool: Pool;
  /** Not readonly: a reload hands a server that stays its numbers so far (keepStatsOf). */
  stats = new HttpServerStats();

  constructor(spec: HttpServerSpec, timeouts: Timeouts) {
    this.spec = spec;
    const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
    this.pool = new Pool(`http://${host}:${spec.port}`, {
      // One request per connection at a time: HTTP/1.1 pipelining is not what nginx does.
      pipelining: 1,
      connections: null,
      connectTimeout: timeouts.connectMs,
      headersTimeout: timeouts.readMs,
      bodyTimeout: timeouts.readMs,
      keepAliveTimeout: UPSTREAM_IDLE_MS,
      keepAliveMaxTimeout: UPSTREAM_IDLE_MS,
      // Responses are passed on as they come: undici's own limit would refuse big heads nginx takes.
      maxHeaderSize: 64 * 1024,
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

export interface Timeouts {
  readonly connectMs: number;
  readonly readMs: number;
}

export function timeoutsOf(proxy: ProxySettings): Timeouts {
  return { connectMs: proxy.connectTimeoutMs, readMs: proxy.readTimeoutMs };
}

/** Request states kept for reuse per upstream: enough for a busy worker's requests in flight. */
const SPARE_STATES = 256;
const NO_KEY = new Uint8Array(0);

/**
 * One upstream block in one worker: its servers (in the order of the balancer's peers: primaries,
 * then backups), nginx's balancer over the shared peer table, the sticky cookie, its numbers.
 */
export class HttpUpstream {
  readonly config: UpstreamConfig;
  readonly servers: readonly UpstreamServer[];
  readonly balancer: Balancer;
  readonly sticky: StickyCookies | null;
  /** Not readonly: a reload hands an upstream that stays its numbers so far (keepStatsOf). */
  stats = new UpstreamStats();
  /** `hash KEY`: the key compiled against the config's variables. */
  readonly #hashKey: ValueTemplate | null;
  readonly #ipHash: boolean;
  readonly #spare: PickState[] = [];

  constructor(
    config: UpstreamConfig,
    timeouts: Timeouts,
    health: HttpPeerHealth,
    offset: number,
    scope: VariableScope,
  ) {
    this.config = config;
    this.balancer = createBalancer(config, health, offset);
    // The balancer's peers are primaries then backups: server i is peer i.
    const ordered = [
      ...config.servers.filter((s) => !s.backup),
      ...config.servers.filter((s) => s.backup),
    ];
    this.servers = ordered.map((s) => new UpstreamServer(s, timeouts));
    this.sticky =
      config.sticky === null ? null : new StickyCookies(config.sticky, this.balancer.peers);
    this.#hashKey =
      config.hashKey === null
        ? null
        : compileValue(config.hashKey, `upstream ${config.name} hash`, scope);
    this.#ipHash = config.balancer === 'ip_hash';
  }

  /** A fresh request's pick state, keyed as this upstream's balancer hashes (ip_hash, hash) and sticky. */
  begin(req: VariableSource): PickState {
    const state = this.#spare.pop() ?? new PickState(this.servers.length);
    let key: Uint8Array = NO_KEY;
    if (this.#ipHash) key = ipHashKey(req.remoteAddress);
    else if (this.#hashKey !== null) key = Buffer.from(evaluate(this.#hashKey, req), 'latin1');
    const hint =
      this.sticky === null
        ? -1
        : this.sticky.peerOf(cookieValue(req.rawHeaders, this.sticky.config.name));
    this.balancer.begin(state, key, hint);
    return state;
  }

  /** The next server to try (taking a connection on it), or -1: no live upstreams. */
  pick(state: PickState): number {
    return this.balancer.pick(state, this.balancer.peers.now());
  }

  /** A try on `peer` is over; `failed` counts towards max_fails within fail_timeout. */
  release(peer: number, failed: boolean): void {
    const peers = this.balancer.peers;
    peers.release(peer, failed, peers.now());
  }

  /** How many servers one request may try (nginx: the ones not `down`). */
  maxTries(): number {
    return this.balancer.peers.maxTries();
  }

  end(state: PickState): void {
    if (this.#spare.length < SPARE_STATES) this.#spare.push(state);
  }

  /**
   * A reload rebuilt this upstream: its numbers, and those of each server that stays (by name,
   * in order for a name listed twice), go on from the old one's. Counters that started again
   * from zero would race the control plane's reset detection and lose what came before.
   */
  keepStatsOf(old: HttpUpstream): void {
    this.stats = old.stats;
    const before = new Map<string, UpstreamServer[]>();
    for (const s of old.servers) {
      const same = before.get(s.spec.name);
      if (same === undefined) before.set(s.spec.name, [s]);
      else same.push(s);
    }
    for (const s of this.servers) {
      const was = before.get(s.spec.name)?.shift();
      if (was !== undefined) s.stats = was.stats;
    }
  }

  snapshot(): HttpUpstreamSnapshot {
    return {
      name: this.config.name,
      counters: this.stats.counters,
      latency: this.stats.encodeLatency(),
      servers: this.servers.map((s) => ({
        name: s.spec.name,
        counters: s.stats.counters,
        latency: s.stats.encodeLatency(),
      })),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.destroy()));
  }
}
