/** An envoy.yaml cluster → an upstream with Envoy's limits, outlier detection and panic threshold. */
import { isIP } from 'node:net';
import {
  type ClusterLimits,
  ENVOY_OUTLIER,
  ENVOY_THRESHOLDS,
  type HttpBalancer,
  type HttpServerSpec,
  type LimitThresholds,
  NO_LIMIT,
  type OutlierDetectionConfig,
  type UpstreamConfig,
} from '../../http-types.ts';
import { type Slot, slotOf } from '../../read.ts';
import {
  bool,
  duration,
  type EnvoyContext,
  enumOf,
  fields,
  list,
  need,
  opt,
  percent,
  str,
  uint32,
} from './values.ts';

export interface EnvoyCluster {
  readonly upstream: UpstreamConfig;
  readonly connectTimeoutMs: number;
  readonly slot: Slot;
}

const LB: Readonly<Record<string, { balancer: HttpBalancer; randomTwo: boolean }>> = {
  ROUND_ROBIN: { balancer: 'round_robin', randomTwo: false },
  // Envoy's LEAST_REQUEST: the better of two random hosts (choice_count 2).
  LEAST_REQUEST: { balancer: 'least_conn', randomTwo: true },
  RANDOM: { balancer: 'random', randomTwo: false },
};

const CLUSTER_FIELDS = [
  'name',
  'connect_timeout',
  'type',
  'lb_policy',
  'load_assignment',
  'circuit_breakers',
  'outlier_detection',
  'common_lb_config',
  'dns_refresh_rate',
  'dns_lookup_family',
];

/** A socket_address; `needIp`: a STATIC cluster or a listener takes addresses, not names. */
export function socketAddress(
  slot: Slot,
  ctx: EnvoyContext,
  needIp: boolean,
): { host: string; port: number } | undefined {
  const addr = fields(slot, ctx, { known: ['socket_address'] }, 'an address');
  const sa = addr === undefined ? undefined : need(addr, 'socket_address', slot, ctx);
  if (sa === undefined) return undefined;
  const f = fields(
    slotOf(sa),
    ctx,
    { known: ['address', 'port_value', 'protocol'] },
    'a socket_address',
  );
  if (f === undefined) return undefined;
  const hostE = need(f, 'address', slotOf(sa), ctx);
  const portE = need(f, 'port_value', slotOf(sa), ctx);
  opt(
    f,
    'protocol',
    (s, c) => enumOf(s, c, ['TCP'], { UDP: 'legate proxies HTTP over TCP' }),
    ctx,
    'TCP',
  );
  const host = hostE === undefined ? undefined : str(slotOf(hostE), ctx);
  const port = portE === undefined ? undefined : uint32(slotOf(portE), ctx, 65535);
  if (host !== undefined && needIp && isIP(host) === 0 && hostE !== undefined) {
    ctx.src.report(
      hostE.place,
      hostE.path,
      `expected an IP address here (a STATIC cluster or a listener), got '${host}'; use type STRICT_DNS or LOGICAL_DNS for host names`,
    );
    return undefined;
  }
  if (host === undefined || port === undefined) return undefined;
  return { host, port };
}

function thresholds(
  slot: Slot,
  ctx: EnvoyContext,
): { priority: 'DEFAULT' | 'HIGH'; t: LimitThresholds } | undefined {
  const f = fields(
    slot,
    ctx,
    {
      known: [
        'priority',
        'max_connections',
        'max_pending_requests',
        'max_requests',
        'max_retries',
        'retry_budget',
        'track_remaining',
      ],
    },
    'circuit_breakers.thresholds',
  );
  if (f === undefined) return undefined;
  let retryBudget: LimitThresholds['retryBudget'] = null;
  const rb = f.get('retry_budget');
  if (rb !== undefined) {
    const b = fields(
      slotOf(rb),
      ctx,
      { known: ['budget_percent', 'min_retry_concurrency'] },
      'retry_budget',
    );
    retryBudget = {
      budgetPercent: opt(b, 'budget_percent', percent, ctx, 20),
      minRetryConcurrency: opt(b, 'min_retry_concurrency', uint32, ctx, 3),
    };
  }
  return {
    priority: opt(f, 'priority', (s, c) => enumOf(s, c, ['DEFAULT', 'HIGH']), ctx, 'DEFAULT'),
    t: {
      maxConnections: opt(f, 'max_connections', uint32, ctx, ENVOY_THRESHOLDS.maxConnections),
      maxPendingRequests: opt(
        f,
        'max_pending_requests',
        uint32,
        ctx,
        ENVOY_THRESHOLDS.maxPendingRequests,
      ),
      maxRequests: opt(f, 'max_requests', uint32, ctx, ENVOY_THRESHOLDS.maxRequests),
      maxRetries: opt(f, 'max_retries', uint32, ctx, ENVOY_THRESHOLDS.maxRetries),
      retryBudget,
      trackRemaining: opt(f, 'track_remaining', bool, ctx, false),
    },
  };
}

/** circuit_breakers: per priority the first entry wins (as Envoy), unnamed priorities get Envoy's defaults. */
function circuitBreakers(slot: Slot | undefined, ctx: EnvoyContext): ClusterLimits {
  let def: LimitThresholds | null = null;
  let high: LimitThresholds | null = null;
  const perHost = { maxConnections: NO_LIMIT, maxRequests: NO_LIMIT };
  if (slot !== undefined) {
    const f = fields(
      slot,
      ctx,
      { known: ['thresholds', 'per_host_thresholds'] },
      'circuit_breakers',
    );
    const ts = f?.get('thresholds');
    for (const item of (ts && list(slotOf(ts), ctx)) ?? []) {
      const r = thresholds(item, ctx);
      if (r === undefined) continue;
      if (r.priority === 'DEFAULT') def ??= r.t;
      else high ??= r.t;
    }
    const ph = f?.get('per_host_thresholds');
    let seen = false;
    for (const item of (ph && list(slotOf(ph), ctx)) ?? []) {
      const h = fields(
        item,
        ctx,
        { known: ['priority', 'max_connections', 'max_requests'] },
        'per_host_thresholds',
      );
      if (h === undefined || seen) continue;
      seen = true;
      opt(h, 'priority', (s, c) => enumOf(s, c, ['DEFAULT', 'HIGH']), ctx, 'DEFAULT');
      perHost.maxConnections = opt(h, 'max_connections', uint32, ctx, NO_LIMIT);
      perHost.maxRequests = opt(h, 'max_requests', uint32, ctx, NO_LIMIT);
    }
  }
  return { default: def ?? ENVOY_THRESHOLDS, high: high ?? ENVOY_THRESHOLDS, perHost };
}

/** outlier_detection field → [config key, reader]. */
const OUTLIER: Readonly<
  Record<string, readonly [keyof OutlierDetectionConfig, 'count' | 'pct' | 'ms' | 'bool']>
> = {
  consecutive_5xx: ['consecutive5xx', 'count'],
  enforcing_consecutive_5xx: ['enforcingConsecutive5xx', 'pct'],
  consecutive_gateway_failure: ['consecutiveGatewayFailure', 'count'],
  enforcing_consecutive_gateway_failure: ['enforcingConsecutiveGatewayFailure', 'pct'],
  split_external_local_origin_errors: ['splitExternalLocalOriginErrors', 'bool'],
  consecutive_local_origin_failure: ['consecutiveLocalOriginFailure', 'count'],
  enforcing_consecutive_local_origin_failure: ['enforcingConsecutiveLocalOriginFailure', 'pct'],
  interval: ['intervalMs', 'ms'],
  base_ejection_time: ['baseEjectionTimeMs', 'ms'],
  max_ejection_time: ['maxEjectionTimeMs', 'ms'],
  max_ejection_percent: ['maxEjectionPercent', 'pct'],
  always_eject_one_host: ['alwaysEjectOneHost', 'bool'],
  success_rate_minimum_hosts: ['successRateMinimumHosts', 'count'],
  success_rate_request_volume: ['successRateRequestVolume', 'count'],
  success_rate_stdev_factor: ['successRateStdevFactor', 'count'],
  enforcing_success_rate: ['enforcingSuccessRate', 'pct'],
  failure_percentage_threshold: ['failurePercentageThreshold', 'pct'],
  enforcing_failure_percentage: ['enforcingFailurePercentage', 'pct'],
  failure_percentage_minimum_hosts: ['failurePercentageMinimumHosts', 'count'],
  failure_percentage_request_volume: ['failurePercentageRequestVolume', 'count'],
};

const OUTLIER_WARNED: Readonly<Record<string, string>> = {
  enforcing_local_origin_success_rate:
    'read but not applied: legate has no separate local-origin success-rate detector',
  enforcing_failure_percentage_local_origin:
    'read but not applied: legate has no separate local-origin failure-percentage detector',
  max_ejection_time_jitter: 'read but not applied: ejections end exactly on an interval tick',
  successful_active_health_check_uneject_host:
    'read but not applied: Envoy clusters have no active health checks in legate',
};

function outlierDetection(slot: Slot, ctx: EnvoyContext): OutlierDetectionConfig {
  const f = fields(
    slot,
    ctx,
    { known: Object.keys(OUTLIER), warned: OUTLIER_WARNED },
    'outlier_detection',
  );
  const out: Record<string, number | boolean> = { ...ENVOY_OUTLIER };
  for (const [key, e] of f ?? []) {
    const [name, kind] = OUTLIER[key];
    const s = slotOf(e);
    const v =
      kind === 'ms'
        ? duration(s, ctx)
        : kind === 'bool'
          ? bool(s, ctx)
          : uint32(s, ctx, kind === 'pct' ? 100 : undefined);
    if (v !== undefined) out[name] = v;
  }
  return out as unknown as OutlierDetectionConfig;
}

function endpoints(
  slot: Slot,
  ctx: EnvoyContext,
  needIp: boolean,
  cluster: string,
): HttpServerSpec[] {
  const la = fields(slot, ctx, { known: ['cluster_name', 'endpoints'] }, 'load_assignment');
  const eps = la === undefined ? undefined : need(la, 'endpoints', slot, ctx);
  const servers: HttpServerSpec[] = [];
  for (const group of (eps && list(slotOf(eps), ctx)) ?? []) {
    const g = fields(group, ctx, { known: ['lb_endpoints'] }, 'a LocalityLbEndpoints');
    const lbe = g === undefined ? undefined : need(g, 'lb_endpoints', group, ctx);
    for (const item of (lbe && list(slotOf(lbe), ctx)) ?? []) {
      const e = fields(
        item,
        ctx,
        { known: ['endpoint', 'load_balancing_weight'] },
        'an LbEndpoint',
      );
      const ep = e === undefined ? undefined : need(e, 'endpoint', item, ctx);
      if (ep === undefined) continue;
      const epf = fields(slotOf(ep), ctx, { known: ['address'] }, 'an endpoint');
      const addr = epf === undefined ? undefined : need(epf, 'address', slotOf(ep), ctx);
      const a = addr === undefined ? undefined : socketAddress(slotOf(addr), ctx, needIp);
      const weight = opt(e, 'load_balancing_weight', (s, c) => uint32(s, c), ctx, 1);
      if (a === undefined) continue;
      servers.push({
        name: a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`,
        host: a.host,
        port: a.port,
        weight: Math.max(1, weight),
        maxFails: 0,
        failTimeoutMs: 10_000,
        maxConns: 0,
        down: false,
        backup: false,
        source: `${ctx.src.file}:${ctx.src.lineOf(item.place)} (cluster ${cluster})`,
      });
    }
  }
  return servers;
}

/** One `clusters[i]`. */
export function readCluster(slot: Slot, ctx: EnvoyContext): EnvoyCluster | undefined {
  const f = fields(slot, ctx, { known: CLUSTER_FIELDS, warned: {} }, 'a cluster');
  if (f === undefined) return undefined;
  const nameE = need(f, 'name', slot, ctx);
  const name = nameE === undefined ? undefined : str(slotOf(nameE), ctx);
  const type = opt(
    f,
    'type',
    (s, c) =>
      enumOf(s, c, ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS'], {
        EDS: 'legate reads static bootstrap configs only (no xDS)',
        ORIGINAL_DST: 'legate needs the upstream addresses in the file',
      }),
    ctx,
    'STATIC',
  );
  const lb = opt(
    f,
    'lb_policy',
    (s, c) =>
      enumOf(s, c, ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM'], {
        RING_HASH: 'use ROUND_ROBIN, LEAST_REQUEST or RANDOM',
        MAGLEV: 'use ROUND_ROBIN, LEAST_REQUEST or RANDOM',
        CLUSTER_PROVIDED: 'use ROUND_ROBIN, LEAST_REQUEST or RANDOM',
      }),
    ctx,
    'ROUND_ROBIN',
  );
  const connectTimeoutMs = opt(f, 'connect_timeout', duration, ctx, 5000);
  const refreshMs = opt(f, 'dns_refresh_rate', duration, ctx, 5000);
  opt(
    f,
    'dns_lookup_family',
    (s, c) => enumOf(s, c, ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL']),
    ctx,
    'AUTO',
  );
  const la = need(f, 'load_assignment', slot, ctx);
  const before = ctx.src.issues.length;
  const servers = la === undefined ? [] : endpoints(slotOf(la), ctx, type === 'STATIC', name ?? '');
  if (la !== undefined && servers.length === 0 && ctx.src.issues.length === before)
    ctx.src.report(la.place, la.path, 'has no endpoints; a cluster needs at least one');
  if (type === 'LOGICAL_DNS' && servers.length > 1 && la !== undefined)
    ctx.src.report(
      la.place,
      la.path,
      'a LOGICAL_DNS cluster takes exactly one endpoint (as Envoy)',
    );
  const cb = f.get('circuit_breakers');
  const limits = circuitBreakers(cb === undefined ? undefined : slotOf(cb), ctx);
  const od = f.get('outlier_detection');
  const outlier = od === undefined ? null : outlierDetection(slotOf(od), ctx);
  let panicThreshold = 50;
  const lbc = f.get('common_lb_config');
  if (lbc !== undefined) {
    const c = fields(slotOf(lbc), ctx, { known: ['healthy_panic_threshold'] }, 'common_lb_config');
    panicThreshold = opt(c, 'healthy_panic_threshold', percent, ctx, 50);
  }
  if (name === undefined) return undefined;
  const discoveryType =
    type === 'STATIC' ? 'static' : type === 'STRICT_DNS' ? 'strict_dns' : 'logical_dns';
  return {
    slot,
    connectTimeoutMs,
    upstream: {
      name,
      ...LB[lb],
      hashKey: null,
      sticky: null,
      servers,
      keepalive: null,
      guard: {
        limits,
        outlier,
        panicThreshold,
        breaker: null,
        discovery: { type: discoveryType, refreshMs },
      },
    },
  };
}
