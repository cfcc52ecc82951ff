import { Pool } from 'undici';
import type {
  HttpServerSpec,
  ProxySettings,
  UpstreamConfig,
} from '../../engine/config/http-types.ts';
import type { HttpUpstreamSnapshot } from '../../engine/metrics/http-snapshot.ts';
import type { Picker, PickerFactory } from './picker.ts';
import { HttpServerStats, UpstreamStats } from './stats.ts';

/** How long an idle upstream connection is kept (nginx's keepalive_timeout for upstreams). */
const UPSTREAM_IDLE_MS = 60_000;

/** One server of an upstream, in one worker: its keep-alive connections and its numbers. */
export class UpstreamServer {
  readonly spec: HttpServerSpec;
  readonly pool: Pool;
  readonly stats = new HttpServerStats();

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

/** One upstream block in one worker: its servers, its balancer, its numbers. */
export class HttpUpstream {
  readonly config: UpstreamConfig;
  readonly servers: readonly UpstreamServer[];
  readonly picker: Picker;
  readonly stats = new UpstreamStats();

  constructor(config: UpstreamConfig, timeouts: Timeouts, pickers: PickerFactory) {
    this.config = config;
    this.servers = config.servers.map((s) => new UpstreamServer(s, timeouts));
    this.picker = pickers(config);
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
