/**
 * The HTTP role's numbers over all workers, for /stats, /metrics and `legate top`: per server
 * block (listener), per upstream and per upstream server (the variants of an A/B split), each
 * with requests by status class, bytes and latency percentiles.
 */

import { type LatencyJson, latencyJson } from '../admin/admin-server.ts';
import type { HttpConfig } from '../config/http-types.ts';
import type { BreakerJson } from './breaker-stats.ts';
import { addEncoded, type Histogram, latencyHistogram } from './histogram.ts';
import {
  emptyHttpListenerCounters,
  emptyHttpServerCounters,
  emptyHttpUpstreamCounters,
  HTTP_GAUGES,
  type HttpListenerCounters,
  type HttpServerCounters,
  type HttpSnapshot,
  type HttpUpstreamCounters,
  serverBlockName,
} from './http-snapshot.ts';
import { Exposition } from './prometheus.ts';

interface Totals<C> {
  readonly counters: C;
  readonly latency: Histogram;
}

function add<C extends object>(into: C, from: C, gauges: boolean): void {
  const t = into as Record<string, number>;
  for (const [k, v] of Object.entries(from as Record<string, number>))
    if (gauges || !HTTP_GAUGES.has(k)) t[k] = (t[k] ?? 0) + v;
}

function wentBack<C extends object>(before: C, now: C): boolean {
  const b = before as Record<string, number>;
  for (const [k, v] of Object.entries(now as Record<string, number>))
    if (!HTTP_GAUGES.has(k) && v < (b[k] ?? 0)) return true;
  return false;
}

/** Sums of HTTP snapshots by listener, upstream and upstream/server name. */
export class HttpTotals {
  readonly listeners = new Map<string, Totals<HttpListenerCounters>>();
  readonly upstreams = new Map<string, Totals<HttpUpstreamCounters>>();
  readonly servers = new Map<string, Totals<HttpServerCounters>>();

  #listener(name: string): Totals<HttpListenerCounters> {
    let t = this.listeners.get(name);
    if (t === undefined) {
      t = { counters: emptyHttpListenerCounters(), latency: latencyHistogram() };
      this.listeners.set(name, t);
    }
    return t;
  }

  #upstream(name: string): Totals<HttpUpstreamCounters> {
    let t = this.upstreams.get(name);
    if (t === undefined) {
      t = { counters: emptyHttpUpstreamCounters(), latency: latencyHistogram() };
      this.upstreams.set(name, t);
    }
    return t;
  }

  #server(upstream: string, name: string): Totals<HttpServerCounters> {
    const key = `${upstream}\u0000${name}`;
    let t = this.servers.get(key);
    if (t === undefined) {
      t = { counters: emptyHttpServerCounters(), latency: latencyHistogram() };
      this.servers.set(key, t);
    }
    return t;
  }

  server(upstream: string, name: string): Totals<HttpServerCounters> {
    return this.#server(upstream, name);
  }

  /** Adds a worker's snapshot; `gauges`: a live worker's (a retired one's gauges died with it). */
  add(s: HttpSnapshot, gauges: boolean): void {
    for (const l of s.listeners) add(this.#listener(l.name).counters, l.counters, gauges);
    for (const u of s.upstreams) {
      const t = this.#upstream(u.name);
      add(t.counters, u.counters, gauges);
      addEncoded(t.latency, u.latency);
      for (const sv of u.servers) {
        const ts = this.#server(u.name, sv.name);
        add(ts.counters, sv.counters, gauges);
        addEncoded(ts.latency, sv.latency);
      }
    }
  }

  /**
   * Folds in what `before` (a worker's previous snapshot) had counted where `now` starts again
   * from zero (a proxy replaced on reload, an upstream removed): totals never go back.
   */
  foldRestarted(before: HttpSnapshot, now: HttpSnapshot | undefined): void {
    for (const l of before.listeners) {
      const n = now?.listeners.find((x) => x.name === l.name);
      if (n === undefined || wentBack(l.counters, n.counters))
        add(this.#listener(l.name).counters, l.counters, false);
    }
    for (const u of before.upstreams) {
      const n = now?.upstreams.find((x) => x.name === u.name);
      if (n === undefined || wentBack(u.counters, n.counters)) {
        const t = this.#upstream(u.name);
        add(t.counters, u.counters, false);
        addEncoded(t.latency, u.latency);
      }
      for (const sv of u.servers) {
        const ns = n?.servers.find((x) => x.name === sv.name);
        if (ns === undefined || wentBack(sv.counters, ns.counters)) {
          const ts = this.#server(u.name, sv.name);
          add(ts.counters, sv.counters, false);
          addEncoded(ts.latency, sv.latency);
        }
      }
    }
  }

  /** Adds another total (the retired workers' numbers). */
  merge(other: HttpTotals): void {
    for (const [k, t] of other.listeners) add(this.#listener(k).counters, t.counters, false);
    for (const [k, t] of other.upstreams) {
      const into = this.#upstream(k);
      add(into.counters, t.counters, false);
      into.latency.add(t.latency);
    }
    for (const [k, t] of other.servers) {
      const into = this.servers.get(k) ?? this.#serverByKey(k);
      add(into.counters, t.counters, false);
      into.latency.add(t.latency);
    }
  }

  #serverByKey(key: string): Totals<HttpServerCounters> {
    const [upstream, name] = key.split('\u0000');
    return this.#server(upstream, name);
  }
}

export type HttpServerJson = HttpServerCounters & {
  readonly name: string;
  readonly weight: number;
  readonly backup: boolean;
  readonly down: boolean;
  /** One try: request sent → response head read. */
  readonly latency_us: LatencyJson;
};

export type HttpUpstreamJson = HttpUpstreamCounters & {
  readonly name: string;
  readonly balancer: string;
  /** One request: head read from the client → last response byte handed back. */
  readonly latency_us: LatencyJson;
  readonly servers: readonly HttpServerJson[];
};

export type HttpListenerJson = HttpListenerCounters & {
  readonly name: string;
  readonly listen: readonly string[];
};

export interface HttpStatsJson {
  readonly engine: 'uws' | 'node' | null;
  readonly servers: readonly HttpListenerJson[];
  readonly upstreams: readonly HttpUpstreamJson[];
  /** The guarded upstreams' limits, ejections and circuits (engine/metrics/breaker-stats.ts). */
  readonly breakers?: readonly BreakerJson[];
}

/** The /stats section for the running config: every listener, upstream and server in config order. */
export function httpStatsJson(
  config: HttpConfig,
  totals: HttpTotals,
  engine: 'uws' | 'node' | null,
  listenText: (block: HttpConfig['servers'][number]) => string[],
): HttpStatsJson {
  return {
    engine,
    servers: config.servers.map((b, i) => {
      const name = serverBlockName(b.name, i);
      const t = totals.listeners.get(name);
      return {
        name,
        listen: listenText(b),
        ...(t?.counters ?? emptyHttpListenerCounters()),
      };
    }),
    upstreams: config.upstreams.map((u) => {
      const t = totals.upstreams.get(u.name);
      return {
        name: u.name,
        balancer: u.balancer,
        ...(t?.counters ?? emptyHttpUpstreamCounters()),
        latency_us: latencyJson(t?.latency ?? latencyHistogram()),
        servers: u.servers.map((s) => {
          const ts = totals.server(u.name, s.name);
          return {
            name: s.name,
            weight: s.weight,
            backup: s.backup,
            down: s.down,
            ...ts.counters,
            latency_us: latencyJson(ts.latency),
          };
        }),
      };
    }),
  };
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The HTTP role's /metrics families, from the same totals as /stats. */
export function renderHttpPrometheus(stats: HttpStatsJson, totals: HttpTotals): string {
  const x = new Exposition();
  x.family(
    'legate_http_server_block_requests_total',
    'counter',
    'Requests a server block answered, by status class (rejected ones included).',
    () => {
      for (const s of stats.servers)
        for (const c of CLASSES)
          x.sample(
            'legate_http_server_block_requests_total',
            { server: s.name, class: c },
            s[`status_${c}`],
          );
    },
  );
  x.family(
    'legate_http_server_block_rejected_total',
    'counter',
    'Requests legate answered itself (bad input, no location): they reached no upstream.',
    () => {
      for (const s of stats.servers)
        x.sample('legate_http_server_block_rejected_total', { server: s.name }, s.rejected);
    },
  );
  x.family(
    'legate_http_upstream_requests_total',
    'counter',
    'Client requests through the upstream, by the status class the client got.',
    () => {
      for (const u of stats.upstreams)
        for (const c of CLASSES)
          x.sample(
            'legate_http_upstream_requests_total',
            { upstream: u.name, class: c },
            u[`status_${c}`],
          );
    },
  );
  const upstreamCounter = (
    metric: string,
    field: 'request_bytes' | 'response_bytes' | 'retries' | 'no_live_upstreams',
    help: string,
  ) =>
    x.family(metric, 'counter', help, () => {
      for (const u of stats.upstreams) x.sample(metric, { upstream: u.name }, u[field]);
    });
  upstreamCounter(
    'legate_http_upstream_request_bytes_total',
    'request_bytes',
    'Request body bytes sent towards the upstream.',
  );
  upstreamCounter(
    'legate_http_upstream_response_bytes_total',
    'response_bytes',
    'Response body bytes handed to clients.',
  );
  upstreamCounter(
    'legate_http_upstream_retries_total',
    'retries',
    'Tries after the first (proxy_next_upstream).',
  );
  upstreamCounter(
    'legate_http_upstream_no_live_total',
    'no_live_upstreams',
    'Requests that found no usable server (502).',
  );
  x.family(
    'legate_http_upstream_request_duration_seconds',
    'histogram',
    'Request latency through the upstream: head read to last response byte handed back.',
    () => {
      for (const u of stats.upstreams) {
        const t = totals.upstreams.get(u.name);
        x.histogram(
          'legate_http_upstream_request_duration_seconds',
          { upstream: u.name },
          t?.latency ?? latencyHistogram(),
        );
      }
    },
  );
  x.family(
    'legate_http_server_requests_total',
    'counter',
    'Tries on each upstream server (variant), by the status class it answered.',
    () => {
      for (const u of stats.upstreams)
        for (const s of u.servers)
          for (const c of CLASSES)
            x.sample(
              'legate_http_server_requests_total',
              { upstream: u.name, server: s.name, class: c },
              s[`status_${c}`],
            );
    },
  );
  const serverCounter = (
    metric: string,
    field: 'request_bytes' | 'response_bytes' | 'failures' | 'timeouts' | 'active',
    help: string,
    type: 'counter' | 'gauge' = 'counter',
  ) =>
    x.family(metric, type, help, () => {
      for (const u of stats.upstreams)
        for (const s of u.servers) x.sample(metric, { upstream: u.name, server: s.name }, s[field]);
    });
  serverCounter(
    'legate_http_server_request_bytes_total',
    'request_bytes',
    'Request body bytes sent to the server.',
  );
  serverCounter(
    'legate_http_server_response_bytes_total',
    'response_bytes',
    'Response body bytes read from the server.',
  );
  serverCounter(
    'legate_http_server_failures_total',
    'failures',
    'Tries that failed to connect, were reset or got an invalid answer.',
  );
  serverCounter('legate_http_server_timeouts_total', 'timeouts', 'Tries that timed out.');
  serverCounter(
    'legate_http_server_active',
    'active',
    'Requests in flight to the server.',
    'gauge',
  );
  x.family(
    'legate_http_server_response_duration_seconds',
    'histogram',
    'Time from sending a request to the server to reading its response head.',
    () => {
      for (const u of stats.upstreams)
        for (const s of u.servers)
          x.histogram(
            'legate_http_server_response_duration_seconds',
            { upstream: u.name, server: s.name },
            totals.server(u.name, s.name).latency,
          );
    },
  );
  return x.toString();
}
