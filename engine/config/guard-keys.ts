/**
 * The native (legate.yml `http:`) keys of the breaker, for an upstream and for a route — the
 * knobs of an envoy.yaml written plainly, and the classic breaker Envoy lacks:
 *
 *   upstream:  limits: { max_connections, max_pending_requests, max_requests, max_retries,
 *                        retry_budget: { percent, min_concurrency }, per_host: { max_connections,
 *                        max_requests }, track_remaining }
 *              outlier_detection: { consecutive_5xx, …every Envoy field…, interval: 10s, … }
 *              panic_threshold: 50
 *              breaker: { scope: upstream|host, failure_rate: 50, window: 100 | 30s,
 *                         minimum_calls: 20, slow_call: { duration: 2s, rate: 80 },
 *                         open_for: 30s, half_open_calls: 3 }
 *   route:     timeout: 15s
 *              retry: { on: [5xx, connect-failure], retries: 1, per_try_timeout: 1s,
 *                       status_codes: [503], backoff: { base: 25ms, max: 250ms },
 *                       non_idempotent: false }
 *
 * Absent keys mean what an nginx user expects (no limits, no ejection, no breaker); a key given
 * takes Envoy's (or resilience4j's) default for each of its fields left out. Times take units.
 */
import { isScalar, isSeq, type Node } from 'yaml';
import { duration } from './duration.ts';
import {
  CLASSIC_BREAKER_DEFAULTS,
  type ClassicBreakerConfig,
  ENVOY_OUTLIER,
  ENVOY_THRESHOLDS,
  type EnvoyRouter,
  type LimitThresholds,
  NEUTRAL_GUARD,
  NO_LIMIT,
  type OutlierDetectionConfig,
  RETRY_ON,
  type RetryOn,
  type RetryPolicy,
  type UpstreamGuard,
} from './http-types.ts';
import { readSection } from './native.ts';
import { boolean, describe, type Entry, integer, oneOf, type Reader, slotOf } from './read.ts';
import type { ConfigSource } from './source.ts';

export const UPSTREAM_GUARD_KEYS = [
  'limits',
  'outlier_detection',
  'panic_threshold',
  'breaker',
] as const;
export const ROUTE_GUARD_KEYS = ['timeout', 'retry'] as const;

function get<T>(
  m: Map<string, Entry> | undefined,
  key: string,
  read: Reader<T>,
  src: ConfigSource,
  fallback: T,
): T {
  const e = m?.get(key);
  return e === undefined ? fallback : (read(slotOf(e), src) ?? fallback);
}

const count = integer({ min: 0, max: NO_LIMIT });
const pct = integer({ min: 0, max: 100 });
const positive = integer({ min: 1, max: NO_LIMIT });
const time = duration({ min: 0 });

function limits(entry: Entry, src: ConfigSource): UpstreamGuard['limits'] {
  const m = readSection(entry, src, [
    'max_connections',
    'max_pending_requests',
    'max_requests',
    'max_retries',
    'retry_budget',
    'per_host',
    'track_remaining',
  ]);
  const rb = m?.get('retry_budget');
  const budget =
    rb === undefined ? undefined : readSection(rb, src, ['percent', 'min_concurrency']);
  const ph = m?.get('per_host');
  const perHost =
    ph === undefined ? undefined : readSection(ph, src, ['max_connections', 'max_requests']);
  const t: LimitThresholds = {
    maxConnections: get(m, 'max_connections', count, src, ENVOY_THRESHOLDS.maxConnections),
    maxPendingRequests: get(
      m,
      'max_pending_requests',
      count,
      src,
      ENVOY_THRESHOLDS.maxPendingRequests,
    ),
    maxRequests: get(m, 'max_requests', count, src, ENVOY_THRESHOLDS.maxRequests),
    maxRetries: get(m, 'max_retries', count, src, ENVOY_THRESHOLDS.maxRetries),
    retryBudget:
      rb === undefined
        ? null
        : {
            budgetPercent: get(budget, 'percent', pct, src, 20),
            minRetryConcurrency: get(budget, 'min_concurrency', count, src, 3),
          },
    trackRemaining: get(m, 'track_remaining', boolean, src, false),
  };
  return {
    default: t,
    high: t,
    perHost: {
      maxConnections: get(perHost, 'max_connections', count, src, NO_LIMIT),
      maxRequests: get(perHost, 'max_requests', count, src, NO_LIMIT),
    },
  };
}

/** outlier_detection: Envoy's field names and defaults; times with units. */
const OUTLIER_KEYS: Readonly<
  Record<string, readonly [keyof OutlierDetectionConfig, Reader<number | boolean>]>
> = {
  consecutive_5xx: ['consecutive5xx', positive],
  enforcing_consecutive_5xx: ['enforcingConsecutive5xx', pct],
  consecutive_gateway_failure: ['consecutiveGatewayFailure', positive],
  enforcing_consecutive_gateway_failure: ['enforcingConsecutiveGatewayFailure', pct],
  split_external_local_origin_errors: ['splitExternalLocalOriginErrors', boolean],
  consecutive_local_origin_failure: ['consecutiveLocalOriginFailure', positive],
  enforcing_consecutive_local_origin_failure: ['enforcingConsecutiveLocalOriginFailure', pct],
  interval: ['intervalMs', duration({ min: 1 })],
  base_ejection_time: ['baseEjectionTimeMs', time],
  max_ejection_time: ['maxEjectionTimeMs', time],
  max_ejection_percent: ['maxEjectionPercent', pct],
  always_eject_one_host: ['alwaysEjectOneHost', boolean],
  success_rate_minimum_hosts: ['successRateMinimumHosts', count],
  success_rate_request_volume: ['successRateRequestVolume', count],
  success_rate_stdev_factor: ['successRateStdevFactor', count],
  enforcing_success_rate: ['enforcingSuccessRate', pct],
  failure_percentage_threshold: ['failurePercentageThreshold', pct],
  enforcing_failure_percentage: ['enforcingFailurePercentage', pct],
  failure_percentage_minimum_hosts: ['failurePercentageMinimumHosts', count],
  failure_percentage_request_volume: ['failurePercentageRequestVolume', count],
};

function outlier(entry: Entry, src: ConfigSource): OutlierDetectionConfig {
  const m = readSection(entry, src, Object.keys(OUTLIER_KEYS));
  const out: Record<string, number | boolean> = { ...ENVOY_OUTLIER };
  for (const [key, e] of m ?? []) {
    const [name, read] = OUTLIER_KEYS[key];
    const v = read(slotOf(e), src);
    if (v !== undefined) out[name] = v;
  }
  return out as unknown as OutlierDetectionConfig;
}

/** `window: 100` (the last 100 calls) or `window: 30s` (the calls of the last 30 seconds). */
const windowOf: Reader<ClassicBreakerConfig['window']> = (slot, src) => {
  const node = slot.node;
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 100_000)
    return { kind: 'count', size: value };
  if (typeof value === 'string') {
    const ms = duration({ min: 1000 })(slot, src);
    if (ms === undefined) return undefined;
    if (ms % 1000 !== 0 || ms > 3_600_000) {
      src.report(
        slot.place,
        slot.path,
        `a time window is whole seconds up to 1h, got ${describe(node)}`,
      );
      return undefined;
    }
    return { kind: 'time', size: ms / 1000 };
  }
  src.report(
    slot.place,
    slot.path,
    `expected a number of calls (100) or a time in seconds (30s), got ${describe(node)}`,
  );
  return undefined;
};

function breaker(entry: Entry, src: ConfigSource): ClassicBreakerConfig {
  const m = readSection(entry, src, [
    'scope',
    'failure_rate',
    'window',
    'minimum_calls',
    'slow_call',
    'open_for',
    'half_open_calls',
  ]);
  const sc = m?.get('slow_call');
  const slow = sc === undefined ? undefined : readSection(sc, src, ['duration', 'rate']);
  const d = CLASSIC_BREAKER_DEFAULTS;
  return {
    scope: get(m, 'scope', oneOf(['upstream', 'host']), src, d.scope),
    failureRateThreshold: get(
      m,
      'failure_rate',
      integer({ min: 1, max: 100 }),
      src,
      d.failureRateThreshold,
    ),
    window: get(m, 'window', windowOf, src, d.window),
    minimumCalls: get(m, 'minimum_calls', positive, src, d.minimumCalls),
    slowCallMs: get(slow, 'duration', duration({ min: 1 }), src, d.slowCallMs),
    slowCallRateThreshold: get(
      slow,
      'rate',
      integer({ min: 1, max: 100 }),
      src,
      d.slowCallRateThreshold,
    ),
    openMs: get(m, 'open_for', time, src, d.openMs),
    halfOpenCalls: get(
      m,
      'half_open_calls',
      integer({ min: 1, max: 100_000 }),
      src,
      d.halfOpenCalls,
    ),
  };
}

/** The guard of an upstream from its native keys (the ones in UPSTREAM_GUARD_KEYS); undefined when it has none. */
export function readUpstreamGuard(
  given: ReadonlyMap<string, Entry>,
  src: ConfigSource,
): UpstreamGuard | undefined {
  const l = given.get('limits');
  const o = given.get('outlier_detection');
  const p = given.get('panic_threshold');
  const b = given.get('breaker');
  if (l === undefined && o === undefined && p === undefined && b === undefined) return undefined;
  return {
    ...NEUTRAL_GUARD,
    limits: l === undefined ? null : limits(l, src),
    outlier: o === undefined ? null : outlier(o, src),
    panicThreshold: p === undefined ? NEUTRAL_GUARD.panicThreshold : (pct(slotOf(p), src) ?? 50),
    breaker: b === undefined ? null : breaker(b, src),
  };
}

/** A route's `timeout` and `retry` (ROUTE_GUARD_KEYS); undefined when it has neither. */
export function readRouteRouter(
  given: ReadonlyMap<string, Entry>,
  src: ConfigSource,
): EnvoyRouter | undefined {
  const t = given.get('timeout');
  const r = given.get('retry');
  if (t === undefined && r === undefined) return undefined;
  let retry: RetryPolicy | null = null;
  if (r !== undefined) {
    const m = readSection(r, src, [
      'on',
      'retries',
      'per_try_timeout',
      'status_codes',
      'backoff',
      'non_idempotent',
    ]);
    const bo = m?.get('backoff');
    const backoff = bo === undefined ? undefined : readSection(bo, src, ['base', 'max']);
    const base = get(backoff, 'base', duration({ min: 1 }), src, 25);
    retry = {
      retryOn: get(m, 'on', listOf(oneOf(RETRY_ON)), src, ['5xx'] as RetryOn[]),
      numRetries: get(m, 'retries', count, src, 1),
      perTryTimeoutMs: get(m, 'per_try_timeout', time, src, 0),
      retriableStatusCodes: get(
        m,
        'status_codes',
        listOf(integer({ min: 100, max: 599 })),
        src,
        [],
      ),
      backoffBaseMs: base,
      backoffMaxMs: get(backoff, 'max', duration({ min: 1 }), src, base * 10),
      retryNonIdempotent: get(m, 'non_idempotent', boolean, src, false),
    };
  }
  return { timeoutMs: t === undefined ? 15_000 : (time(slotOf(t), src) ?? 15_000), retry };
}

/** A YAML list (or one value) read item by item. */
function listOf<T>(read: Reader<T>): Reader<T[]> {
  return (slot, src) => {
    const node = slot.node;
    const items = isSeq(node) ? node.items : [node];
    const out: T[] = [];
    for (const [i, item] of items.entries()) {
      const n = src.deref(item as Node | null);
      const v = read({ node: n, place: n ?? slot.place, path: `${slot.path}[${i}]` }, src);
      if (v !== undefined) out.push(v);
    }
    return out;
  };
}
