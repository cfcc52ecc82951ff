/** nginx's `server { listen …; location … { proxy_pass …; } }` blocks of the http context. */

import type { HttpServerBlockConfig, LocationConfig, ProxySettings } from '../../http-types.ts';
import type { Address } from '../../types.ts';
import { IGNORED, REFUSED } from './directives.ts';
import type { NginxReport } from './report.ts';
import { complete, inherit, readSetting, type Settings } from './settings.ts';
import type { Directive } from './tree.ts';
import { parseListenAddress } from './values.ts';

/** `proxy_pass http://HOST[:PORT][URI]`, before HOST is matched against the upstreams. */
export interface ProxyTarget {
  /** HOST, or HOST:PORT as written when a port is given. */
  readonly upstream: string;
  readonly host: string;
  readonly port: number | null;
  readonly uri: string | null;
  readonly d: Directive;
}

/** A location as read, its proxy_pass still naming an upstream or a host to resolve. */
export interface PendingLocation {
  readonly prefix: string;
  readonly exact: boolean;
  readonly target: ProxyTarget;
  readonly settings: Required<Settings>;
}

export interface PendingServer {
  readonly d: Directive;
  readonly block: Omit<HttpServerBlockConfig, 'locations'>;
  readonly locations: readonly PendingLocation[];
}

const LISTEN_REFUSED: Readonly<Record<string, string>> = {
  ssl: 'legate does not terminate TLS; terminate it in front of legate',
  http2: 'legate serves HTTP/1.x',
  quic: 'legate serves HTTP/1.x',
  proxy_protocol:
    'legate does not read the PROXY protocol on HTTP listeners; use real_ip_header X-Forwarded-For',
};

/** `identity`: the location is `location /`, where a URI part of `/` changes nothing. */
function readProxyPass(d: Directive, report: NginxReport, identity: boolean): ProxyTarget | null {
  if (!report.shape(d, false) || !report.arity(d, 1)) return null;
  const text = d.args[0].text;
  if (text.includes('$')) {
    report.at(d, 'variables in proxy_pass are not supported; name an upstream', d.args[0]);
    return null;
  }
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\[[^\]]*\]|[^/:]*)(?::([^/]*))?(\/.*)?$/.exec(text);
  if (m === null) {
    report.at(d, `invalid URL prefix in "${text}"`, d.args[0]);
    return null;
  }
  if (m[1].toLowerCase() !== 'http') {
    report.at(
      d,
      m[1].toLowerCase() === 'https'
        ? 'legate proxies to upstreams in plain HTTP only (https:// is not supported)'
        : `invalid URL prefix in "${text}"`,
      d.args[0],
    );
    return null;
  }
  const host = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
  if (host === '') {
    report.at(d, `no host in "${text}"`, d.args[0]);
    return null;
  }
  let port: number | null = null;
  if (m[3] !== undefined) {
    port = /^\d+$/.test(m[3]) ? Number(m[3]) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) {
      report.at(d, `invalid port in "${text}"`, d.args[0]);
      return null;
    }
  }
  // nginx would replace the location's part of the normalised URI with this one; legate passes
  // the client's URI as it came, so it refuses what it would not do.
  if (m[4] !== undefined && !(identity && m[4] === '/')) {
    report.at(
      d,
      `a URI part in proxy_pass ("${m[4]}") is not supported: legate passes the client's URI unchanged; write proxy_pass http://${m[2]}${m[3] === undefined ? '' : `:${m[3]}`} and have the backend serve that path`,
      d.args[0],
    );
    return null;
  }
  return {
    upstream: m[3] === undefined ? m[2] : `${m[2]}:${m[3]}`,
    host,
    port,
    uri: null,
    d,
  };
}

function readLocation(d: Directive, parent: Settings, report: NginxReport): PendingLocation | null {
  if (!report.shape(d, true) || !report.arity(d, 1, 2)) return null;
  let modifier = d.args.length === 2 ? d.args[0].text : '';
  let path = d.args[d.args.length - 1].text;
  if (d.args.length === 1 && path.startsWith('=') && path.length > 1) {
    modifier = '=';
    path = path.slice(1);
  }
  if (modifier === '~' || modifier === '~*' || path.startsWith('@')) {
    report.at(
      d,
      path.startsWith('@')
        ? 'named locations are not supported (legate has no internal redirects)'
        : 'regex locations are not supported; use a prefix (location /path) or exact (location = /path) match',
      d.args[0],
    );
    return null;
  }
  if (modifier !== '' && modifier !== '=' && modifier !== '^~') {
    report.at(d, `invalid location modifier "${modifier}"`, d.args[0]);
    return null;
  }
  const own: Settings = {};
  let target: ProxyTarget | null = null;
  let sawProxyPass = false;
  for (const c of d.block ?? []) {
    if (readSetting(c, 'location', own, report)) continue;
    if (c.name === 'proxy_pass') {
      if (sawProxyPass) report.at(c, '"proxy_pass" directive is duplicate');
      sawProxyPass = true;
      target = readProxyPass(c, report, modifier === '' && path === '/');
    } else if (c.name === 'location') {
      report.at(c, 'nested locations are not supported; write each location in the server');
    } else otherDirective(c, report, 'location');
  }
  if (!sawProxyPass) {
    report.at(
      d,
      `location "${path}" has no proxy_pass; legate only proxies (add proxy_pass http://UPSTREAM;)`,
    );
    return null;
  }
  if (target === null) return null;
  return {
    prefix: path,
    exact: modifier === '=',
    target,
    settings: complete(inherit(own, parent)),
  };
}

/** Reports `c` as ignored (warning), refused with advice, or unknown. */
export function otherDirective(c: Directive, report: NginxReport, context: string): void {
  if (c.name in IGNORED) report.warn(c, `ignored: ${IGNORED[c.name]}`);
  else if (c.name in REFUSED) report.at(c, `"${c.name}" is not supported: ${REFUSED[c.name]}`);
  else {
    report.at(
      c,
      `unknown directive "${c.name}" in ${context}; legate reads the subset in the README (nginx dialect)`,
    );
  }
}

export function readServerBlock(
  d: Directive,
  http: Settings,
  report: NginxReport,
): PendingServer | null {
  if (!report.shape(d, true) || !report.arity(d, 0)) return null;
  const own: Settings = {};
  const listen: Address[] = [];
  const names: string[] = [];
  let defaultServer = false;
  const locationDirectives: Directive[] = [];
  for (const c of d.block ?? []) {
    if (readSetting(c, 'server', own, report)) continue;
    switch (c.name) {
      case 'listen': {
        if (!report.shape(c, false) || !report.arity(c, 1, 12)) break;
        const address = parseListenAddress(c.args[0].text);
        if (typeof address === 'string') {
          report.at(c, address, c.args[0]);
          break;
        }
        listen.push(address);
        for (const arg of c.args.slice(1)) {
          const key = arg.text.split('=')[0];
          if (key === 'default_server' || key === 'default') defaultServer = true;
          else if (key in LISTEN_REFUSED)
            report.at(c, `"${key}" is not supported: ${LISTEN_REFUSED[key]}`, arg);
          else if (
            ![
              'reuseport',
              'backlog',
              'bind',
              'ipv6only',
              'so_keepalive',
              'deferred',
              'fastopen',
              'rcvbuf',
              'sndbuf',
              'accept_filter',
              'setfib',
            ].includes(key)
          ) {
            report.at(c, `invalid parameter "${arg.text}"`, arg);
          }
        }
        break;
      }
      case 'server_name':
        if (report.shape(c, false)) names.push(...c.args.map((a) => a.text));
        break;
      case 'location':
        locationDirectives.push(c);
        break;
      case 'proxy_pass':
        report.at(c, '"proxy_pass" directive is not allowed here; put it in a location');
        break;
      default:
        otherDirective(c, report, 'server');
    }
  }
  const settings = inherit(own, http);
  const locations = locationDirectives
    .map((c) => readLocation(c, settings, report))
    .filter((l) => l !== null);
  if (locationDirectives.length === 0) {
    report.at(d, 'server has no location; add location / { proxy_pass http://UPSTREAM; }');
  }
  const done = complete(settings);
  return {
    d,
    block: {
      name: names[0] ?? '',
      serverNames: names,
      defaultServer,
      // nginx's default listen: *:80 (as root).
      listen: listen.length > 0 ? listen : [{ kind: 'tcp', host: '0.0.0.0', port: 80 }],
      clientMaxBodySize: done.clientMaxBodySize,
      clientHeaderTimeoutMs: done.clientHeaderTimeoutMs,
      clientBodyTimeoutMs: done.clientBodyTimeoutMs,
      keepaliveTimeoutMs: done.keepaliveTimeoutMs,
      realIp:
        done.realIpFrom.length === 0
          ? null
          : {
              trusted: done.realIpFrom,
              header: done.realIpHeader,
              recursive: done.realIpRecursive,
            },
    },
    locations,
  };
}

/** The proxy settings of a location, its upstream now named. */
export function proxySettings(location: PendingLocation, upstream: string): ProxySettings {
  const s = location.settings;
  return {
    upstream,
    uri: location.target.uri,
    setHeaders: s.setHeaders,
    httpVersion: s.httpVersion,
    connectTimeoutMs: s.connectTimeoutMs,
    sendTimeoutMs: s.sendTimeoutMs,
    readTimeoutMs: s.readTimeoutMs,
    nextUpstream: s.nextUpstream,
    nextUpstreamTries: s.nextUpstreamTries,
  };
}

export function locationConfig(location: PendingLocation, upstream: string): LocationConfig {
  return {
    prefix: location.prefix,
    exact: location.exact,
    proxy: proxySettings(location, upstream),
    clientMaxBodySize: location.settings.clientMaxBodySize,
    clientBodyTimeoutMs: location.settings.clientBodyTimeoutMs,
  };
}
