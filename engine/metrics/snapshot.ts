/**
 * What each worker reports every second: cumulative counters since the worker started, gauges
 * as they are now, and cumulative HDR latency histograms (compressed base64, microseconds).
 */

import type { HttpSnapshot } from './http-snapshot.ts';

/** twemproxy's per-pool fields, plus legate's request count and latency. */
export interface PoolCounters {
  client_eof: number;
  client_err: number;
  /** Gauge: open client connections. */
  client_connections: number;
  /** Accepted client connections since start. */
  client_accepted: number;
  /** Requests legate answered with an error it made (shard unavailable, timeout, CROSSSHARD…). */
  forward_error: number;
  /** Parts of fanned-out requests. */
  fragments: number;
  /** Client requests answered. */
  requests: number;
}

/** twemproxy's per-server fields. */
export interface ServerCounters {
  server_eof: number;
  server_err: number;
  server_timedout: number;
  /** Gauge: open connections to the server. */
  server_connections: number;
  requests: number;
  request_bytes: number;
  responses: number;
  response_bytes: number;
  /** Gauge: requests queued for the server, not yet written (twemproxy's in_queue). */
  in_queue: number;
  in_queue_bytes: number;
  /** Gauge: requests written to the server, awaiting their reply (twemproxy's out_queue). */
  out_queue: number;
  out_queue_bytes: number;
}

export const GAUGES: ReadonlySet<string> = new Set([
  'client_connections',
  'server_connections',
  'in_queue',
  'in_queue_bytes',
  'out_queue',
  'out_queue_bytes',
]);

export interface ServerSnapshot {
  readonly name: string;
  readonly counters: ServerCounters;
  /** Shard round trip: request written → reply read. */
  readonly latency: string;
}

export interface PoolSnapshot {
  readonly name: string;
  readonly counters: PoolCounters;
  /** Request: last byte read from the client → reply handed back. */
  readonly latency: string;
  readonly servers: readonly ServerSnapshot[];
}

export interface WorkerSnapshot {
  readonly worker: number;
  readonly at: number;
  readonly pools: readonly PoolSnapshot[];
  /** The HTTP role's numbers, when the config has it. */
  readonly http?: HttpSnapshot;
}

export function emptyPoolCounters(): PoolCounters {
  return {
    client_eof: 0,
    client_err: 0,
    client_connections: 0,
    client_accepted: 0,
    forward_error: 0,
    fragments: 0,
    requests: 0,
  };
}

export function emptyServerCounters(): ServerCounters {
  return {
    server_eof: 0,
    server_err: 0,
    server_timedout: 0,
    server_connections: 0,
    requests: 0,
    request_bytes: 0,
    responses: 0,
    response_bytes: 0,
    in_queue: 0,
    in_queue_bytes: 0,
    out_queue: 0,
    out_queue_bytes: 0,
  };
}
