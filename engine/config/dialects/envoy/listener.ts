/** An envoy.yaml listener with an http_connection_manager → a server block with Envoy routes. */
import {
  type EnvoyRouter,
  type HttpServerBlockConfig,
  type LocationConfig,
  RETRY_ON,
  type RetryOn,
  type RetryPolicy,
} from '../../http-types.ts';
import { type Slot, slotOf } from '../../read.ts';
import { socketAddress } from './cluster.ts';
import {
  duration,
  type EnvoyContext,
  enumOf,
  fields,
  list,
  need,
  opt,
  str,
  typed,
  uint32,
} from './values.ts';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'envoy.extensions.filters.http.router.v3.Router';
const ACCESS_LOG = 'accepted but not written: legate logs through its own logger (log.level)';

/** A route as read, before its cluster is checked against the clusters. */
export interface EnvoyRoute {
  readonly location: LocationConfig;
  /** Where `route.cluster` is, to report a cluster that does not exist. */
  readonly clusterSlot: Slot;
}

export interface EnvoyListener {
  readonly block: HttpServerBlockConfig;
  readonly routes: EnvoyRoute[];
  readonly addressSlot: Slot;
}

function retryPolicy(slot: Slot, ctx: EnvoyContext): RetryPolicy | undefined {
  const f = fields(
    slot,
    ctx,
    {
      known: [
        'retry_on',
        'num_retries',
        'per_try_timeout',
        'retriable_status_codes',
        'retry_back_off',
      ],
    },
    'retry_policy',
  );
  if (f === undefined) return undefined;
  const retryOn: RetryOn[] = [];
  const on = f.get('retry_on');
  const text = on === undefined ? undefined : str(slotOf(on), ctx);
  for (const part of text?.split(',') ?? []) {
    const name = part.trim();
    if ((RETRY_ON as readonly string[]).includes(name)) retryOn.push(name as RetryOn);
    else if (on !== undefined)
      ctx.src.report(
        on.place,
        on.path,
        `retry_on '${name}' is not supported; legate reads ${RETRY_ON.join(', ')}`,
      );
  }
  const codes: number[] = [];
  const rsc = f.get('retriable_status_codes');
  for (const item of (rsc && list(slotOf(rsc), ctx)) ?? []) {
    const code = uint32(item, ctx, 599);
    if (code !== undefined) codes.push(code);
  }
  let backoffBaseMs = 25;
  let backoffMaxMs = 250;
  const bo = f.get('retry_back_off');
  if (bo !== undefined) {
    const b = fields(
      slotOf(bo),
      ctx,
      { known: ['base_interval', 'max_interval'] },
      'retry_back_off',
    );
    const base = b === undefined ? undefined : need(b, 'base_interval', slotOf(bo), ctx);
    backoffBaseMs = base === undefined ? 25 : (duration(slotOf(base), ctx) ?? 25);
    backoffMaxMs = opt(b, 'max_interval', duration, ctx, backoffBaseMs * 10);
  }
  return {
    retryOn,
    numRetries: opt(f, 'num_retries', uint32, ctx, 1),
    perTryTimeoutMs: opt(f, 'per_try_timeout', duration, ctx, 0),
    retriableStatusCodes: codes,
    backoffBaseMs,
    backoffMaxMs,
    retryNonIdempotent: false,
  };
}

function route(slot: Slot, ctx: EnvoyContext): EnvoyRoute | undefined {
  const f = fields(slot, ctx, { known: ['name', 'match', 'route'] }, 'a route');
  if (f === undefined) return undefined;
  const m = need(f, 'match', slot, ctx);
  const r = need(f, 'route', slot, ctx);
  let prefix: string | undefined;
  let exact = false;
  if (m !== undefined) {
    const mf = fields(slotOf(m), ctx, { known: ['prefix', 'path'] }, 'a route match');
    const p = mf?.get('prefix');
    const path = mf?.get('path');
    if (p !== undefined) prefix = str(slotOf(p), ctx);
    else if (path !== undefined) {
      prefix = str(slotOf(path), ctx);
      exact = true;
    } else if (mf !== undefined) ctx.src.report(m.place, m.path, "needs 'prefix' or 'path'");
  }
  if (r === undefined || prefix === undefined) return undefined;
  const rf = fields(
    slotOf(r),
    ctx,
    { known: ['cluster', 'timeout', 'retry_policy'] },
    'a route action',
  );
  if (rf === undefined) return undefined;
  const c = need(rf, 'cluster', slotOf(r), ctx);
  const cluster = c === undefined ? undefined : str(slotOf(c), ctx);
  const rp = rf.get('retry_policy');
  const router: EnvoyRouter = {
    timeoutMs: opt(rf, 'timeout', duration, ctx, 15_000),
    retry: rp === undefined ? null : (retryPolicy(slotOf(rp), ctx) ?? null),
  };
  if (cluster === undefined || c === undefined) return undefined;
  return {
    clusterSlot: slotOf(c),
    location: {
      prefix,
      exact,
      // Envoy streams bodies without a size limit by default; no body timeout (its stream idle timeout is not read).
      clientMaxBodySize: 0,
      clientBodyTimeoutMs: 60_000,
      proxy: {
        upstream: cluster,
        uri: null,
        // Envoy passes the client's Host on (no host_rewrite in the subset).
        setHeaders: [{ name: 'Host', value: '$http_host' }],
        httpVersion: '1.1',
        // The cluster's connect_timeout; set once clusters are read (envoy.ts).
        connectTimeoutMs: 5000,
        sendTimeoutMs: 0,
        readTimeoutMs: 0,
        nextUpstream: [],
        nextUpstreamTries: 0,
        router,
      },
    },
  };
}

function routeConfig(slot: Slot, ctx: EnvoyContext): EnvoyRoute[] {
  const f = fields(slot, ctx, { known: ['name', 'virtual_hosts'] }, 'route_config');
  const vhs = f === undefined ? undefined : need(f, 'virtual_hosts', slot, ctx);
  const hosts = (vhs && list(slotOf(vhs), ctx)) ?? [];
  if (hosts.length > 1 && vhs !== undefined)
    ctx.src.report(
      hosts[1].place,
      hosts[1].path,
      'legate reads one virtual host per route_config (routes are matched by path, not Host)',
    );
  const out: EnvoyRoute[] = [];
  for (const vh of hosts.slice(0, 1)) {
    const v = fields(vh, ctx, { known: ['name', 'domains', 'routes'] }, 'a virtual host');
    if (v === undefined) continue;
    const domains = v.get('domains');
    for (const d of (domains && list(slotOf(domains), ctx)) ?? []) {
      const name = str(d, ctx);
      if (name !== undefined && name !== '*')
        ctx.warn.report(
          d.place,
          d.path,
          `domain '${name}' is not checked: legate routes every Host to this virtual host`,
        );
    }
    const routes = need(v, 'routes', vh, ctx);
    for (const r of (routes && list(slotOf(routes), ctx)) ?? []) {
      const read = route(r, ctx);
      if (read !== undefined) out.push(read);
    }
  }
  return out;
}

function connectionManager(slot: Slot, ctx: EnvoyContext): EnvoyRoute[] {
  const f = typed(
    slot,
    ctx,
    HCM,
    {
      known: ['stat_prefix', 'codec_type', 'route_config', 'http_filters'],
      warned: { access_log: ACCESS_LOG },
    },
    'the http_connection_manager',
  );
  if (f === undefined) return [];
  opt(
    f,
    'codec_type',
    (s, c) =>
      enumOf(s, c, ['AUTO', 'HTTP1'], {
        HTTP2: 'legate speaks HTTP/1.1 to clients',
        HTTP3: 'legate speaks HTTP/1.1 to clients',
      }),
    ctx,
    'AUTO',
  );
  opt(f, 'stat_prefix', str, ctx, '');
  const filters = need(f, 'http_filters', slot, ctx);
  const items = (filters && list(slotOf(filters), ctx)) ?? [];
  for (const item of items) {
    const hf = fields(item, ctx, { known: ['name', 'typed_config'] }, 'an http filter');
    const tc = hf?.get('typed_config');
    if (tc === undefined) {
      if (hf !== undefined)
        ctx.src.report(
          item.place,
          `${item.path}.typed_config`,
          `'typed_config' is required (with @type type.googleapis.com/${ROUTER})`,
        );
      continue;
    }
    typed(slotOf(tc), ctx, ROUTER, { known: [] }, 'the router filter');
  }
  if (filters !== undefined && items.length === 0)
    ctx.src.report(
      filters.place,
      filters.path,
      'needs the router filter (envoy.filters.http.router)',
    );
  const rc = need(f, 'route_config', slot, ctx);
  return rc === undefined ? [] : routeConfig(slotOf(rc), ctx);
}

/** One `listeners[i]`. */
export function readListener(
  slot: Slot,
  ctx: EnvoyContext,
  index: number,
): EnvoyListener | undefined {
  const f = fields(
    slot,
    ctx,
    { known: ['name', 'address', 'filter_chains'], warned: { access_log: ACCESS_LOG } },
    'a listener',
  );
  if (f === undefined) return undefined;
  const name = opt(f, 'name', str, ctx, `listener_${index}`);
  const addrE = need(f, 'address', slot, ctx);
  const address = addrE === undefined ? undefined : socketAddress(slotOf(addrE), ctx, true);
  const chains = need(f, 'filter_chains', slot, ctx);
  const chainSlots = (chains && list(slotOf(chains), ctx)) ?? [];
  if (chainSlots.length > 1)
    ctx.src.report(
      chainSlots[1].place,
      chainSlots[1].path,
      'legate reads one filter chain per listener (no filter_chain_match)',
    );
  const routes: EnvoyRoute[] = [];
  for (const chain of chainSlots.slice(0, 1)) {
    const c = fields(chain, ctx, { known: ['filters'] }, 'a filter chain');
    const fs = c === undefined ? undefined : need(c, 'filters', chain, ctx);
    const filterSlots = (fs && list(slotOf(fs), ctx)) ?? [];
    if (fs !== undefined && filterSlots.length !== 1)
      ctx.src.report(fs.place, fs.path, 'expected exactly one filter: the http_connection_manager');
    for (const filter of filterSlots.slice(0, 1)) {
      const ff = fields(filter, ctx, { known: ['name', 'typed_config'] }, 'a network filter');
      const tc = ff === undefined ? undefined : need(ff, 'typed_config', filter, ctx);
      if (tc !== undefined) routes.push(...connectionManager(slotOf(tc), ctx));
    }
  }
  if (address === undefined || addrE === undefined) return undefined;
  return {
    addressSlot: slotOf(addrE),
    routes,
    block: {
      name,
      listen: [{ kind: 'tcp', host: address.host, port: address.port }],
      locations: routes.map((r) => r.location),
      // Envoy buffers no limit by default for a proxied body (it streams); no header timeout.
      clientMaxBodySize: 0,
      clientHeaderTimeoutMs: 60_000,
      clientBodyTimeoutMs: 60_000,
      realIp: null,
      serverNames: [],
      defaultServer: false,
      // Envoy's downstream idle_timeout default (common_http_protocol_options): 1 h.
      keepaliveTimeoutMs: 3_600_000,
    },
  };
}
