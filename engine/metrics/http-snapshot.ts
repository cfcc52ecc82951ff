/**
 * What an HTTP role reports from each worker, in the shape of the Redis role's snapshot
 * (snapshot.ts): cumulative counters since the worker started, gauges as they are now, and
 * cumulative HDR latency histograms (compressed base64, microseconds).
 */

/** Responses by status class, and bytes, as clients saw them. */
export interface HttpStatusCounters {
  /** Requests answered (a retried request counts once here, once per try at its servers). */
  requests: number;
  status_1xx: number;
  status_2xx: number;
  status_3xx: number;
  status_4xx: number;
  status_5xx: number;
  /** Request body bytes read from clients (upstream: that went towards this upstream). */
  request_bytes: number;
  /** Response body bytes sent to clients. */
  response_bytes: number;
}

export interface HttpUpstreamCounters extends HttpStatusCounters {
  /** Requests that found no usable server (502, nginx's "no live upstreams"). */
  no_live_upstreams: number;
  /** Tries after the first (proxy_next_upstream). */
  retries: number;
}

export interface HttpServerCounters extends HttpStatusCounters {
  /** Tries that failed to connect, were reset, or got an invalid response (502). */
  failures: number;
  /** Tries that timed out connecting or waiting for the response (504). */
  timeouts: number;
  /** Gauge: requests in flight to the server from this worker. */
  active: number;
}

/** Every request a listener answered: the sum of its upstreams' and the ones it `rejected`. */
export interface HttpListenerCounters extends HttpStatusCounters {
  /** Of `requests`, the ones legate answered itself: they reached no upstream. */
  rejected: number;
}

export const HTTP_GAUGES: ReadonlySet<string> = new Set(['active']);

export interface HttpServerSnapshot {
  /** The server as written (`web-prod:80`). */
  readonly name: string;
  readonly counters: HttpServerCounters;
  /** One try: dispatched → response headers read. */
  readonly latency: string;
}

export interface HttpUpstreamSnapshot {
  readonly name: string;
  readonly counters: HttpUpstreamCounters;
  /** One request: its head read from the client → its response's last byte handed back. */
  readonly latency: string;
  readonly servers: readonly HttpServerSnapshot[];
}

export interface HttpListenerSnapshot {
  /** `server` block name, or its first listen address. */
  readonly name: string;
  readonly counters: HttpListenerCounters;
}

export interface HttpSnapshot {
  /** 'uws' or 'node': the ingress engine this worker runs. */
  readonly engine: 'uws' | 'node';
  readonly listeners: readonly HttpListenerSnapshot[];
  readonly upstreams: readonly HttpUpstreamSnapshot[];
}

function emptyStatus(): HttpStatusCounters {
  return {
    requests: 0,
    status_1xx: 0,
    status_2xx: 0,
    status_3xx: 0,
    status_4xx: 0,
    status_5xx: 0,
    request_bytes: 0,
    response_bytes: 0,
  };
}

export function emptyHttpUpstreamCounters(): HttpUpstreamCounters {
  return { ...emptyStatus(), no_live_upstreams: 0, retries: 0 };
}

export function emptyHttpServerCounters(): HttpServerCounters {
  return { ...emptyStatus(), failures: 0, timeouts: 0, active: 0 };
}

export function emptyHttpListenerCounters(): HttpListenerCounters {
  return { ...emptyStatus(), rejected: 0 };
}

/** A server block's name in the numbers: its first server_name, else `server1`, `server2`… by place. */
export function serverBlockName(name: string, index: number): string {
  return name === '' ? `server${index + 1}` : name;
}
