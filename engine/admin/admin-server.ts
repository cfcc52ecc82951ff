import type { LegateConfig } from '../config/types.ts';
import { BadValueError, UnknownNameError } from '../errors.ts';
import { percentileOf } from '../metrics/histogram.ts';
import type { HttpStatsJson } from '../metrics/http-stats.ts';
import type { PoolCounters, ServerCounters } from '../metrics/snapshot.ts';
import type { PoolView, RecentLatency } from '../metrics/store.ts';
import type { TcpStatsJson } from '../metrics/tcp-stats.ts';
import type { HttpEngine, HttpRequest, HttpResponse } from './http-engine.ts';

/** What the admin endpoints read from the running process. */
export interface AdminSource {
  readonly version: string;
  readonly startedAt: number;
  readonly workers: number;
  /** Workers that are up and listening now. */
  readonly workersReady: number;
  config(): LegateConfig;
  /** Merged metrics of every pool. */
  pools(): PoolView[];
  /** Latency of the recent window, per pool in the same order. */
  recentLatency(): RecentLatency[];
  /** Per pool: whether each server is in the ring, times ejected, last ejection (Unix s). */
  serverStates(): ReadonlyMap<
    string,
    readonly { name: string; live: boolean; ejects: number; ejectedAt: number }[]
  >;
  prometheus(): string;
  /** The TCP broker's services and servers; null when the config has none. */
  tcp(): TcpStatsJson | null;
  /** The HTTP role's server blocks, upstreams and their servers; null when the config has none. */
  http(): HttpStatsJson | null;
  /** Why the TCP broker is not ready (a service with no server up); empty when it is. */
  tcpReadiness(): string[];
  /**
   * Admin action on a TCP server: ready, drain or maint. `backend` may name a service instead
   * (its backend is meant). Returns the backend's name; throws UnknownNameError or BadValueError.
   */
  setTcpServerState(backend: string, server: string, state: string): string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function json(status: number, value: unknown): HttpResponse {
  return { status, contentType: JSON_TYPE, body: `${JSON.stringify(value, null, 2)}\n` };
}

/** The config as JSON with secrets replaced, for GET /config. */
export function redactedConfig(config: LegateConfig): unknown {
  return {
    ...config,
    redis: config.redis.map((p) => ({
      ...p,
      redisAuth: p.redisAuth === null ? null : '<redacted>',
    })),
    tcp: {
      ...config.tcp,
      backends: config.tcp.backends.map((b) =>
        b.check.kind === 'postgres' && b.check.password !== null
          ? { ...b, check: { ...b.check, password: '<redacted>' } }
          : b,
      ),
    },
  };
}

const PERCENTILES = [50, 90, 99, 99.9] as const;

/** Latency percentiles in microseconds, from merged HDR histograms. */
export interface LatencyJson {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly 'p99.9': number;
  readonly max: number;
  readonly mean: number;
}

export interface ServerJson extends ServerCounters {
  readonly name: string;
  readonly ejected: boolean;
  readonly ejects: number;
  /** Unix seconds of the last ejection; 0 if never. */
  readonly ejected_at: number;
  /** Since start. */
  readonly latency_us: LatencyJson;
  /** Over the pool's recent window. */
  readonly recent_latency_us: LatencyJson;
}

export interface PoolJson extends PoolCounters {
  readonly name: string;
  /** Mean Unix ms of the worker snapshots these numbers come from (for rates); 0 before any. */
  readonly updated_at_ms: number;
  /** Since start. */
  readonly latency_us: LatencyJson;
  /** Over the last `recent_window_s` (ten stats intervals; shorter just after start). */
  readonly recent_latency_us: LatencyJson;
  readonly recent_window_s: number;
  readonly servers: readonly ServerJson[];
}

/** The document GET /stats answers (and `legate top` reads). */
export interface StatsJson {
  readonly service: 'legate';
  readonly version: string;
  readonly uptime_s: number;
  readonly workers: number;
  readonly workers_ready: number;
  readonly latency_unit: 'us';
  readonly pools: readonly PoolJson[];
  /** The TCP broker (present when the config has `tcp:` services). */
  readonly tcp?: TcpStatsJson;
  /** The HTTP role (present when the config has HTTP servers): per server block, upstream and variant. */
  readonly http?: HttpStatsJson;
}

export function latencyJson(h: PoolView['latency']): LatencyJson {
  if (!(h.totalCount > 0)) return { count: 0, p50: 0, p90: 0, p99: 0, 'p99.9': 0, max: 0, mean: 0 };
  const at = (p: (typeof PERCENTILES)[number]) => percentileOf(h, p);
  return {
    count: h.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    'p99.9': at(99.9),
    max: h.maxValue,
    mean: Number.isFinite(h.mean) ? Math.round(h.mean) : 0,
  };
}

/** GET /stats: the same numbers as /metrics, as JSON, with latency percentiles in microseconds. */
export function statsJson(source: AdminSource): StatsJson {
  const states = source.serverStates();
  const recent = source.recentLatency();
  const tcp = source.tcp();
  const http = source.http();
  return {
    service: 'legate',
    version: source.version,
    uptime_s: Math.floor((Date.now() - source.startedAt) / 1000),
    workers: source.workers,
    workers_ready: source.workersReady,
    latency_unit: 'us',
    pools: source.pools().map((p, pi) => ({
      name: p.name,
      ...p.counters,
      updated_at_ms: p.updatedAt,
      latency_us: latencyJson(p.latency),
      recent_latency_us: latencyJson(recent[pi].latency),
      recent_window_s: Math.round(recent[pi].windowMs / 100) / 10,
      servers: p.servers.map((s, i) => {
        const st = states.get(p.name)?.[i];
        return {
          name: s.name,
          ejected: st ? !st.live : false,
          ejects: st?.ejects ?? 0,
          ejected_at: st?.ejectedAt ?? 0,
          ...s.counters,
          latency_us: latencyJson(s.latency),
          recent_latency_us: latencyJson(recent[pi].servers[i]),
        };
      }),
    })),
    ...(tcp === null ? {} : { tcp }),
    ...(http === null ? {} : { http }),
  };
}

/** Readiness: every worker listening, every pool with at least one live server. */
export function readiness(source: AdminSource): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (source.workersReady < source.workers)
    reasons.push(`${source.workersReady} of ${source.workers} workers listening`);
  for (const [pool, servers] of source.serverStates()) {
    if (!servers.some((s) => s.live))
      reasons.push(`pool ${pool} has no live server (all ${servers.length} ejected)`);
  }
  reasons.push(...source.tcpReadiness());
  return { ready: reasons.length === 0, reasons };
}

const TCP_SERVER_PATH = '/tcp/servers/';

/**
 * POST /tcp/servers/BACKEND/SERVER?state=ready|drain|maint (HAProxy's `set server B/S state`);
 * a service's name in place of BACKEND means the backend it sends to.
 */
function setServerState(source: AdminSource, req: HttpRequest): HttpResponse {
  const usage = `expected POST ${TCP_SERVER_PATH}BACKEND/SERVER?state=ready|drain|maint`;
  const text = (status: number, body: string): HttpResponse => ({
    status,
    contentType: TEXT_TYPE,
    body: `${body}\n`,
  });
  let parts: string[];
  try {
    parts = req.path.slice(TCP_SERVER_PATH.length).split('/').map(decodeURIComponent);
  } catch {
    return text(400, `bad %-escape in ${req.path}; ${usage}`);
  }
  const state = new URLSearchParams(req.query).get('state');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '' || state === null)
    return text(400, usage);
  let backend: string;
  try {
    backend = source.setTcpServerState(parts[0], parts[1], state);
  } catch (err) {
    if (err instanceof UnknownNameError) return text(404, err.message);
    if (err instanceof BadValueError) return text(400, err.message);
    throw err;
  }
  return {
    status: 200,
    contentType: TEXT_TYPE,
    body: `server ${backend}/${parts[1]} set to ${state}\n`,
  };
}

/** Routes of the admin server. */
export function adminHandler(source: AdminSource) {
  return (req: HttpRequest): HttpResponse => {
    if (req.method === 'POST' && req.path.startsWith(TCP_SERVER_PATH))
      return setServerState(source, req);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return {
        status: 405,
        contentType: TEXT_TYPE,
        body: `only GET (and POST ${TCP_SERVER_PATH}BACKEND/SERVER?state=ready|drain|maint)\n`,
      };
    }
    switch (req.path) {
      case '/metrics':
        return { status: 200, contentType: PROMETHEUS_TYPE, body: source.prometheus() };
      case '/stats':
        return json(200, statsJson(source));
      case '/healthz':
        return { status: 200, contentType: TEXT_TYPE, body: 'ok\n' };
      case '/readyz': {
        const r = readiness(source);
        return r.ready
          ? { status: 200, contentType: TEXT_TYPE, body: 'ready\n' }
          : { status: 503, contentType: TEXT_TYPE, body: `not ready: ${r.reasons.join('; ')}\n` };
      }
      case '/config':
        return json(200, redactedConfig(source.config()));
      case '/':
        return {
          status: 200,
          contentType: TEXT_TYPE,
          body: 'legate admin: /metrics /stats /healthz /readyz /config\n',
        };
      default:
        return { status: 404, contentType: TEXT_TYPE, body: `no such endpoint: ${req.path}\n` };
    }
  };
}

/** Starts the admin endpoints on an engine; resolves with the bound port. */
export function startAdmin(
  engine: HttpEngine,
  host: string,
  port: number,
  source: AdminSource,
): Promise<number> {
  return engine.listen(host, port, adminHandler(source));
}
