import type {
  EnvoyRouter,
  HttpServerBlockConfig,
  LocationConfig,
} from '../../engine/config/http-types.ts';
import { LegateError } from '../../engine/errors.ts';
import { RealIp } from './balance/real-ip.ts';
import { RequestHeaders } from './headers.ts';
import type { HttpUpstream } from './upstream.ts';
import type { VariableScope } from './variables.ts';

/** Where a location's requests go and on what terms, compiled once per config. */
export interface Route {
  readonly prefix: string;
  readonly exact: boolean;
  readonly upstream: HttpUpstream;
  readonly headers: RequestHeaders;
  /** client_max_body_size; 0: no limit. */
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;
  readonly nextUpstream: ReadonlySet<string>;
  /** Statuses proxy_next_upstream lists (`http_502` → 502): they try the next server. */
  readonly nextOnStatus: ReadonlySet<number>;
  /** The server block's set_real_ip_from, or null. */
  readonly realIp: RealIp | null;
  readonly nextUpstreamTries: number;
  /** Which of each upstream server's pools this location's proxy_connect_timeout uses. */
  readonly connectSlot: number;
  /** proxy_read_timeout: for the response head, between body reads, and an idle tunnel; 0: none. */
  readonly readTimeoutMs: number;
  /** proxy_send_timeout: applied to tunnels (an upstream that stops reading); 0: none. */
  readonly sendTimeoutMs: number;
  /** Envoy's router settings (breaker/guarded-forward.ts); null: nginx's proxy_pass. */
  readonly router: EnvoyRouter | null;
}

export function compileRoutes(
  block: HttpServerBlockConfig,
  upstreams: ReadonlyMap<string, HttpUpstream>,
  scope: VariableScope,
): Route[] {
  const realIp = block.realIp === null ? null : new RealIp(block.realIp);
  const routes = block.locations.map((loc: LocationConfig): Route => {
    const where = `server ${block.name} location ${loc.exact ? '= ' : ''}${loc.prefix}`;
    const upstream = upstreams.get(loc.proxy.upstream);
    if (upstream === undefined)
      throw new LegateError(
        'LEGATE_CONFIG',
        `${where}: proxy_pass names upstream ${loc.proxy.upstream}, which is not defined`,
      );
    return {
      prefix: loc.prefix,
      exact: loc.exact,
      upstream,
      headers: new RequestHeaders(loc.proxy, where, scope),
      maxBodyBytes: loc.clientMaxBodySize,
      bodyTimeoutMs: loc.clientBodyTimeoutMs,
      nextUpstream: new Set(loc.proxy.nextUpstream),
      nextOnStatus: new Set(
        loc.proxy.nextUpstream.filter((n) => /^http_\d{3}$/.test(n)).map((n) => Number(n.slice(5))),
      ),
      realIp,
      nextUpstreamTries: loc.proxy.nextUpstreamTries,
      connectSlot: upstream.connectSlot(loc.proxy.connectTimeoutMs),
      readTimeoutMs: loc.proxy.readTimeoutMs,
      sendTimeoutMs: loc.proxy.sendTimeoutMs,
      router: loc.proxy.router ?? null,
    };
  });
  // nginx: an exact match wins, else the longest prefix.
  return routes.sort(
    (a, b) => Number(b.exact) - Number(a.exact) || b.prefix.length - a.prefix.length,
  );
}

/** The route for a request URI (its path, before any `?`), or null: nginx answers 404. */
export function findRoute(routes: readonly Route[], uri: string): Route | null {
  // The path's length, compared in place: no sliced string per request.
  const q = uri.indexOf('?');
  const length = q === -1 ? uri.length : q;
  for (const r of routes) {
    const n = r.prefix.length;
    if ((r.exact ? length === n : length >= n) && uri.startsWith(r.prefix)) return r;
  }
  return null;
}
