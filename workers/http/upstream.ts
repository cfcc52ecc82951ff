import { Pool } from 'undici';
import type { HttpConfig, HttpServerSpec, UpstreamConfig } from '../../engine/config/http-types.ts';
import { LegateError } from '../../engine/errors.ts';
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
/** nginx's proxy_connect_timeout default, for an upstream no location uses. */
const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;

/** One server of an upstream, in one worker: its keep-alive connections and its numbers. */
export class UpstreamServer {
  readonly spec: HttpServerSpec;
  /**
   * One keep-alive pool per distinct proxy_connect_timeout of the locations that use this
   * upstream (undici sets the connect timeout per pool); a route dispatches on its own slot.
   */
  readonly pools: readonly Pool[];
  readonly stats: HttpServerStats;

  /** `stats`: the numbers of the same server before a reload, so its counters never restart. */
  constructor(
    spec: HttpServerSpec,
    connectTimeouts: readonly number[],
    stats = new HttpServerStats(),
  ) {
    this.spec = spec;
    this.stats = stats;
    const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
    this.pools = connectTimeouts.map(
      (connectMs) =>
        new Pool(`http://${host}:${spec.port}`, {
          // One request per connection at a time: HTTP/1.1 pipelining is not what nginx does.
          pipelining: 1,
          connections: null,
          connectTimeout: connectMs,
          // Each request brings its location's proxy_read_timeout (Forward, Tunnel).
          keepAliveTimeout: UPSTREAM_IDLE_MS,
          keepAliveMaxTimeout: UPSTREAM_IDLE_MS,
          // Responses are passed on as they come: undici's own limit would refuse big heads nginx takes.
          maxHeaderSize: 64 * 1024,
        }),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.destroy()));
  }
}

/**
 * The distinct proxy_connect_timeouts of the locations that proxy to `upstream`, in config order
 * (nginx applies each location's own; a location-less upstream gets nginx's default).
 */
export function connectTimeoutsOf(config: HttpConfig, upstream: string): number[] {
  const out: number[] = [];
  for (const s of config.servers)
    for (const l of s.locations)
      if (l.proxy.upstream === upstream && !out.includes(l.proxy.connectTimeoutMs))
        out.push(l.proxy.connectTimeoutMs);
  if (out.length === 0) out.push(DEFAULT_CONNECT_TIMEOUT_MS);
  return out;
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
  readonly stats: UpstreamStats;
  /** `hash KEY`: the key compiled against the config's variables. */
  readonly #hashKey: ValueTemplate | null;
  readonly #ipHash: boolean;
  readonly #spare: PickState[] = [];
  readonly #connectTimeouts: readonly number[];

  constructor(
    config: UpstreamConfig,
    connectTimeouts: readonly number[],
    health: HttpPeerHealth,
    offset: number,
    scope: VariableScope,
    previous?: HttpUpstream,
  ) {
    this.config = config;
    // An upstream and servers that stay across a reload keep their numbers (Prometheus counters
    // never go back; the store could not tell a restart from a quiet interval).
    this.stats = previous?.stats ?? new UpstreamStats();
    this.balancer = createBalancer(config, health, offset);
    // The balancer's peers are primaries then backups: server i is peer i.
    const ordered = [
      ...config.servers.filter((s) => !s.backup),
      ...config.servers.filter((s) => s.backup),
    ];
    this.#connectTimeouts = connectTimeouts;
    this.servers = ordered.map(
      (s) =>
        new UpstreamServer(
          s,
          connectTimeouts,
          previous?.servers.find((p) => p.spec.name === s.name)?.stats,
        ),
    );
    this.sticky =
      config.sticky === null ? null : new StickyCookies(config.sticky, this.balancer.peers);
    this.#hashKey =
      config.hashKey === null
        ? null
        : compileValue(config.hashKey, `upstream ${config.name} hash`, scope);
    this.#ipHash = config.balancer === 'ip_hash';
  }

  /** The index in each server's `pools` of the pool with this connect timeout. */
  connectSlot(connectMs: number): number {
    const slot = this.#connectTimeouts.indexOf(connectMs);
    if (slot === -1)
      throw new LegateError(
        'LEGATE_CONFIG',
        `upstream ${this.config.name} has no pool for a ${connectMs} ms connect timeout`,
      );
    return slot;
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
