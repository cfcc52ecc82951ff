import { cumulativeCounts, type Histogram, percentileOf } from './histogram.ts';
import type { PoolView } from './store.ts';

/** Bucket bounds for a proxy's latencies, in seconds: tens of microseconds to seconds. */
export const BUCKETS_SECONDS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  5, 10,
];
const BUCKETS_MICROS = BUCKETS_SECONDS.map((s) => Math.round(s * 1e6));
const QUANTILES = [0.5, 0.9, 0.99, 0.999];

function labels(pairs: Record<string, string | number>): string {
  const parts = Object.entries(pairs).map(
    ([k, v]) =>
      `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Writes Prometheus text exposition format (version 0.0.4), one family at a time. */
export class Exposition {
  #out: string[] = [];

  family(
    name: string,
    type: 'counter' | 'gauge' | 'histogram' | 'summary',
    help: string,
    rows: () => void,
  ): void {
    this.#out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    rows();
  }

  sample(name: string, l: Record<string, string | number>, value: number): void {
    this.#out.push(`${name}${labels(l)} ${Number.isFinite(value) ? value : 0}`);
  }

  histogram(name: string, l: Record<string, string | number>, h: Histogram): void {
    const counts = cumulativeCounts(h, BUCKETS_MICROS);
    for (let i = 0; i < BUCKETS_SECONDS.length; i++) {
      this.sample(`${name}_bucket`, { ...l, le: BUCKETS_SECONDS[i] }, counts[i]);
    }
    this.sample(`${name}_bucket`, { ...l, le: '+Inf' }, h.totalCount);
    this.sample(`${name}_sum`, l, (h.mean * h.totalCount) / 1e6);
    this.sample(`${name}_count`, l, h.totalCount);
  }

  summary(name: string, l: Record<string, string | number>, h: Histogram): void {
    for (const q of QUANTILES) {
      this.sample(name, { ...l, quantile: q }, percentileOf(h, q * 100) / 1e6);
    }
    this.sample(`${name}_sum`, l, (h.mean * h.totalCount) / 1e6);
    this.sample(`${name}_count`, l, h.totalCount);
  }

  toString(): string {
    return `${this.#out.join('\n')}\n`;
  }
}

export interface ProcessFacts {
  readonly workers: number;
  readonly startedAt: number;
  readonly version: string;
  /** Per pool, per server: in the ring (1) or ejected (0), and times ejected. */
  readonly servers: ReadonlyMap<
    string,
    readonly { name: string; live: boolean; ejects: number; ejectedAt: number }[]
  >;
}

/** The /metrics page: counters, gauges, latency histograms and quantiles from the merged HDR data. */
export function renderPrometheus(pools: readonly PoolView[], facts: ProcessFacts): string {
  const x = new Exposition();
  x.family('legate_info', 'gauge', 'legate build and runtime facts (always 1).', () =>
    x.sample('legate_info', { version: facts.version, node: process.versions.node }, 1),
  );
  x.family('legate_workers', 'gauge', 'Data-plane worker threads.', () =>
    x.sample('legate_workers', {}, facts.workers),
  );
  x.family('legate_start_time_seconds', 'gauge', 'Unix time legate started.', () =>
    x.sample('legate_start_time_seconds', {}, Math.floor(facts.startedAt / 1000)),
  );
  const poolCounter = (
    metric: string,
    field: keyof PoolView['counters'],
    help: string,
    type: 'counter' | 'gauge' = 'counter',
  ) =>
    x.family(metric, type, help, () => {
      for (const p of pools) x.sample(metric, { pool: p.name }, p.counters[field]);
    });
  poolCounter(
    'legate_client_connections',
    'client_connections',
    'Open client connections.',
    'gauge',
  );
  poolCounter('legate_client_connections_total', 'client_accepted', 'Client connections accepted.');
  poolCounter('legate_client_eof_total', 'client_eof', 'Client connections closed by the client.');
  poolCounter(
    'legate_client_errors_total',
    'client_err',
    'Client connections closed on an error or by legate.',
  );
  poolCounter('legate_requests_total', 'requests', 'Client requests answered.');
  poolCounter(
    'legate_forward_errors_total',
    'forward_error',
    'Requests answered with an error legate made (shard unavailable, timeout, overload, refused command).',
  );
  poolCounter(
    'legate_fragments_total',
    'fragments',
    'Parts sent for fanned-out requests (MGET, MSET, DEL…).',
  );
  x.family(
    'legate_request_duration_seconds',
    'histogram',
    'Request latency: last request byte read to reply handed back.',
    () => {
      for (const p of pools)
        x.histogram('legate_request_duration_seconds', { pool: p.name }, p.latency);
    },
  );
  x.family(
    'legate_request_latency_seconds',
    'summary',
    'Request latency quantiles from the merged HDR histograms.',
    () => {
      for (const p of pools)
        x.summary('legate_request_latency_seconds', { pool: p.name }, p.latency);
    },
  );
  type ServerField = keyof PoolView['servers'][number]['counters'];
  const serverMetric = (
    metric: string,
    field: ServerField,
    help: string,
    type: 'counter' | 'gauge' = 'counter',
  ) =>
    x.family(metric, type, help, () => {
      for (const p of pools)
        for (const s of p.servers)
          x.sample(metric, { pool: p.name, server: s.name }, s.counters[field]);
    });
  serverMetric('legate_server_requests_total', 'requests', 'Requests sent to the server.');
  serverMetric(
    'legate_server_request_bytes_total',
    'request_bytes',
    'Request bytes sent to the server.',
  );
  serverMetric('legate_server_responses_total', 'responses', 'Replies received from the server.');
  serverMetric(
    'legate_server_response_bytes_total',
    'response_bytes',
    'Reply bytes received from the server.',
  );
  serverMetric('legate_server_eof_total', 'server_eof', 'Server connections closed by the server.');
  serverMetric(
    'legate_server_errors_total',
    'server_err',
    'Server connections failed on an error.',
  );
  serverMetric(
    'legate_server_timeouts_total',
    'server_timedout',
    'Requests to the server that timed out.',
  );
  serverMetric(
    'legate_server_connections',
    'server_connections',
    'Open connections to the server.',
    'gauge',
  );
  serverMetric(
    'legate_server_in_queue',
    'in_queue',
    'Requests queued for the server, not yet written.',
    'gauge',
  );
  serverMetric(
    'legate_server_out_queue',
    'out_queue',
    'Requests written to the server, awaiting their reply.',
    'gauge',
  );
  x.family('legate_server_ejected', 'gauge', '1 while the server is ejected from its ring.', () => {
    for (const [pool, servers] of facts.servers)
      for (const s of servers)
        x.sample('legate_server_ejected', { pool, server: s.name }, s.live ? 0 : 1);
  });
  x.family(
    'legate_server_ejects_total',
    'counter',
    'Times the server was ejected from its ring.',
    () => {
      for (const [pool, servers] of facts.servers)
        for (const s of servers)
          x.sample('legate_server_ejects_total', { pool, server: s.name }, s.ejects);
    },
  );
  x.family(
    'legate_server_duration_seconds',
    'histogram',
    'Shard round trip: request written to reply read.',
    () => {
      for (const p of pools)
        for (const s of p.servers)
          x.histogram(
            'legate_server_duration_seconds',
            { pool: p.name, server: s.name },
            s.latency,
          );
    },
  );
  return x.toString();
}
