/**
 * The HTTP roles' config model (the A/B splitter now, the circuit breaker next): what an
 * `http:` section of a legate.yml and an nginx.conf both become. Times are milliseconds.
 * Defaults named here are nginx's (facts/nginx.md); a dialect fills every field.
 */
import type { Address } from './types.ts';

export const HTTP_BALANCERS = [
  'round_robin',
  'ip_hash',
  'hash',
  'hash_consistent',
  'least_conn',
  'random',
] as const;
export type HttpBalancer = (typeof HTTP_BALANCERS)[number];

export interface HttpServerSpec {
  /** The server string as written (`web-prod:80`): nginx's consistent hash hashes this text. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Default 1. */
  readonly weight: number;
  /** Default 1; 0 disables failure accounting. */
  readonly maxFails: number;
  /** Default 10000. */
  readonly failTimeoutMs: number;
  /** 0: unlimited. */
  readonly maxConns: number;
  readonly down: boolean;
  readonly backup: boolean;
  /** `file:line`, for messages. */
  readonly source: string;
}

/** nginx 1.29.6's `sticky cookie NAME [expires=] [domain=] [path=] [secure] [httponly] [samesite=]`. */
export interface StickyCookie {
  readonly name: string;
  /** Seconds, or 'max'; null: a session cookie. */
  readonly expires: number | 'max' | null;
  readonly domain: string | null;
  readonly path: string | null;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: 'strict' | 'lax' | 'none' | null;
}

export interface UpstreamConfig {
  readonly name: string;
  readonly balancer: HttpBalancer;
  /** For `hash` / `hash_consistent`: the key as written, with nginx variables (`$request_uri`). */
  readonly hashKey: string | null;
  /** For `random two [least_conn]`. */
  readonly randomTwo: boolean;
  readonly sticky: StickyCookie | null;
  readonly servers: readonly HttpServerSpec[];
  /** Idle keep-alive connections kept per worker (nginx `keepalive N`); null: nginx's default of none. */
  readonly keepalive: number | null;
  /** What guards this upstream (Envoy's limits and outlier detection, the classic breaker); absent: nothing. */
  readonly guard?: UpstreamGuard;
}

/** A `proxy_set_header NAME VALUE`: VALUE may hold nginx variables; an empty value removes the header. */
export interface HeaderSetting {
  readonly name: string;
  readonly value: string;
}

export interface ProxySettings {
  /** `proxy_pass http://UPSTREAM[URI]`: the upstream's name and the URI part (null: pass the client's URI). */
  readonly upstream: string;
  readonly uri: string | null;
  readonly setHeaders: readonly HeaderSetting[];
  /** '1.0' (nginx's default) or '1.1'. */
  readonly httpVersion: '1.0' | '1.1';
  readonly connectTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** `proxy_next_upstream`: error, timeout, invalid_header, http_500, …, non_idempotent, off. */
  readonly nextUpstream: readonly string[];
  /** 0: no limit on tries. */
  readonly nextUpstreamTries: number;
  /** Envoy's router for this route (timeout, retry_policy, Envoy's answers); absent: nginx's proxy_pass. */
  readonly router?: EnvoyRouter;
}

export interface LocationConfig {
  /** Prefix match (nginx `location /prefix`); `=` exact matches have `exact`. */
  readonly prefix: string;
  readonly exact: boolean;
  readonly proxy: ProxySettings;
  /** Bytes, 0: no limit; the server's unless the location sets its own (nginx inherits it so). */
  readonly clientMaxBodySize: number;
  /** The server's unless the location sets its own. */
  readonly clientBodyTimeoutMs: number;
}

/** `set_real_ip_from` / `real_ip_header` / `real_ip_recursive`. */
export interface RealIpConfig {
  /** CIDRs, as written (`10.0.0.0/8`, `::1`, …). */
  readonly trusted: readonly string[];
  /** Header name, lower case, or 'proxy_protocol'. */
  readonly header: string;
  readonly recursive: boolean;
}

/** `split_clients "STRING" $VAR { 10% a; * b; }`. */
export interface SplitClientsConfig {
  readonly source: string;
  readonly variable: string;
  readonly parts: readonly { readonly percent: number | '*'; readonly value: string }[];
}

export interface HttpServerBlockConfig {
  /** The first `server_name` ('' when none): for messages and stats. */
  readonly name: string;
  /** Every `server_name`, to choose among servers sharing a listen address by Host. */
  readonly serverNames: readonly string[];
  /** `listen … default_server`: takes requests whose Host no server names (else the first server). */
  readonly defaultServer: boolean;
  readonly listen: readonly Address[];
  readonly locations: readonly LocationConfig[];
  /** Bytes; 0: no limit (nginx default 1 MiB). */
  readonly clientMaxBodySize: number;
  readonly clientHeaderTimeoutMs: number;
  readonly clientBodyTimeoutMs: number;
  readonly realIp: RealIpConfig | null;
  /** Idle client keep-alive connections are closed after this (nginx `keepalive_timeout`, 75 s); 0: no keep-alive. */
  readonly keepaliveTimeoutMs: number;
}

export interface HttpConfig {
  /** auto: uWebSockets.js where it loads, else node:http. */
  readonly engine: 'auto' | 'uws' | 'node';
  readonly upstreams: readonly UpstreamConfig[];
  readonly servers: readonly HttpServerBlockConfig[];
  readonly splitClients: readonly SplitClientsConfig[];
}

export const EMPTY_HTTP: HttpConfig = {
  engine: 'auto',
  upstreams: [],
  servers: [],
  splitClients: [],
};

/** Envoy's UInt32 maximum: a limit that never binds (what "no limit" means for the nginx and native readers). */
export const NO_LIMIT = 4_294_967_295;

/** Envoy's `circuit_breakers.thresholds[]` entry for one priority: concurrency limits, not a failure breaker. */
export interface LimitThresholds {
  /** Envoy default 1024 each; NO_LIMIT: none. */
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  /** Concurrent retries over the whole cluster; Envoy default 3. */
  readonly maxRetries: number;
  /** Overrides maxRetries when set: retries may be `budgetPercent` of active requests, at least `minRetryConcurrency`. */
  readonly retryBudget: {
    readonly budgetPercent: number;
    readonly minRetryConcurrency: number;
  } | null;
  /** Publish remaining_cx / remaining_pending / remaining_rq / remaining_retries. */
  readonly trackRemaining: boolean;
}

/** `circuit_breakers`: per priority (Envoy: the first entry for a priority wins), and per host. */
export interface ClusterLimits {
  readonly default: LimitThresholds;
  readonly high: LimitThresholds;
  /** `per_host_thresholds`: max_connections and max_requests per host; NO_LIMIT: none. */
  readonly perHost: { readonly maxConnections: number; readonly maxRequests: number };
}

/** `outlier_detection`, every field with Envoy's default when absent. Percentages 0–100, times ms. */
export interface OutlierDetectionConfig {
  readonly consecutive5xx: number;
  readonly enforcingConsecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly enforcingConsecutiveGatewayFailure: number;
  /** false (default): connect failures count as 503 and timeouts as 504 in the 5xx detectors. */
  readonly splitExternalLocalOriginErrors: boolean;
  readonly consecutiveLocalOriginFailure: number;
  readonly enforcingConsecutiveLocalOriginFailure: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly alwaysEjectOneHost: boolean;
  readonly successRateMinimumHosts: number;
  readonly successRateRequestVolume: number;
  /** ÷1000: 1900 → 1.9 standard deviations. */
  readonly successRateStdevFactor: number;
  readonly enforcingSuccessRate: number;
  readonly failurePercentageThreshold: number;
  readonly enforcingFailurePercentage: number;
  readonly failurePercentageMinimumHosts: number;
  readonly failurePercentageRequestVolume: number;
}

/** The breaker people mean (resilience4j's CircuitBreakerConfig), which Envoy lacks. */
export interface ClassicBreakerConfig {
  /** One circuit for the upstream, or one per server. */
  readonly scope: 'upstream' | 'host';
  /** Percent of failed calls in the window that opens the circuit. */
  readonly failureRateThreshold: number;
  /** The last `size` calls, or the calls of the last `size` seconds. */
  readonly window: { readonly kind: 'count' | 'time'; readonly size: number };
  /** Calls the window must hold before a rate is judged. */
  readonly minimumCalls: number;
  /** A call slower than this is slow; 0: calls are never slow. */
  readonly slowCallMs: number;
  /** Percent of slow calls in the window that opens the circuit. */
  readonly slowCallRateThreshold: number;
  /** How long the circuit stays open before probing. */
  readonly openMs: number;
  /** Probe calls let through while half-open; the rest fail fast. */
  readonly halfOpenCalls: number;
}

export interface UpstreamGuard {
  /** null: no limits (nginx and native defaults). */
  readonly limits: ClusterLimits | null;
  /** null: no outlier detection. */
  readonly outlier: OutlierDetectionConfig | null;
  /** `common_lb_config.healthy_panic_threshold`, percent (Envoy default 50). */
  readonly panicThreshold: number;
  /** null: no classic breaker. */
  readonly breaker: ClassicBreakerConfig | null;
  /** How the servers' addresses are found: Envoy's cluster `type` and `dns_refresh_rate`. */
  readonly discovery: {
    readonly type: 'static' | 'strict_dns' | 'logical_dns';
    readonly refreshMs: number;
  };
}

export const RETRY_ON = [
  '5xx',
  'gateway-error',
  'connect-failure',
  'reset',
  'retriable-4xx',
  'retriable-status-codes',
] as const;
export type RetryOn = (typeof RETRY_ON)[number];

export interface RetryPolicy {
  readonly retryOn: readonly RetryOn[];
  /** Envoy default 1. */
  readonly numRetries: number;
  /** 0: the route timeout only. */
  readonly perTryTimeoutMs: number;
  readonly retriableStatusCodes: readonly number[];
  /** Envoy default 25 ms and 10 × base. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** legate: retry POST/PATCH/LOCK too (Envoy retries any method; legate only idempotent ones unless this). */
  readonly retryNonIdempotent: boolean;
}

/** Envoy's route action: route timeout (default 15 s, 0: none) and retry policy. */
export interface EnvoyRouter {
  readonly timeoutMs: number;
  readonly retry: RetryPolicy | null;
}

/** Envoy's `thresholds` defaults for a priority nothing names. */
export const ENVOY_THRESHOLDS: LimitThresholds = {
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  maxRetries: 3,
  retryBudget: null,
  trackRemaining: false,
};

export const ENVOY_OUTLIER: OutlierDetectionConfig = {
  consecutive5xx: 5,
  enforcingConsecutive5xx: 100,
  consecutiveGatewayFailure: 5,
  enforcingConsecutiveGatewayFailure: 0,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailure: 5,
  enforcingConsecutiveLocalOriginFailure: 100,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 10,
  alwaysEjectOneHost: false,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1900,
  enforcingSuccessRate: 100,
  failurePercentageThreshold: 85,
  enforcingFailurePercentage: 0,
  failurePercentageMinimumHosts: 5,
  failurePercentageRequestVolume: 50,
};

/** resilience4j's CircuitBreakerConfig defaults, per upstream. */
export const CLASSIC_BREAKER_DEFAULTS: ClassicBreakerConfig = {
  scope: 'upstream',
  failureRateThreshold: 50,
  window: { kind: 'count', size: 100 },
  minimumCalls: 100,
  slowCallMs: 0,
  slowCallRateThreshold: 100,
  openMs: 60_000,
  halfOpenCalls: 10,
};

/** What an nginx or native upstream has unless it says otherwise: no limits, no ejection, no breaker. */
export const NEUTRAL_GUARD: UpstreamGuard = {
  limits: null,
  outlier: null,
  panicThreshold: 50,
  breaker: null,
  discovery: { type: 'static', refreshMs: 5000 },
};
