import type { SplitClientsConfig } from '../../engine/config/http-types.ts';
import { type NginxVariable, VARIABLE_PATTERN } from '../../engine/config/http-variables.ts';
import { LegateError } from '../../engine/errors.ts';
import { addressBytes } from '../../engine/shared/ip.ts';
import type { RealIp } from './balance/real-ip.ts';
import { SplitClients } from './balance/split-clients.ts';

/** What nginx variables (`proxy_set_header` values, `hash` keys) are computed from, for one request. */
export interface VariableSource {
  readonly method: string;
  readonly uri: string;
  readonly rawHeaders: readonly string[];
  /** The client's address: the connection's, or the one real_ip found behind trusted proxies. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The upstream's name, as `$proxy_host`. */
  readonly proxyHost: string;
  readonly serverPort: number;
}

/** A request's fields as nginx variables and balancers read them. */
export class RequestVariables implements VariableSource {
  readonly method: string;
  readonly uri: string;
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly proxyHost: string;
  readonly serverPort: number;

  /** `realIp`: the server block's set_real_ip_from (nginx's realip module rewrites $remote_addr). */
  constructor(
    from: Omit<VariableSource, 'proxyHost' | 'serverPort'>,
    proxyHost: string,
    serverPort: number,
    realIp: RealIp | null = null,
  ) {
    this.method = from.method;
    this.uri = from.uri;
    this.rawHeaders = from.rawHeaders;
    this.remoteAddress =
      realIp === null
        ? from.remoteAddress
        : realIp.resolve(from.remoteAddress, headerValues(from.rawHeaders, realIp.header));
    this.remotePort = from.remotePort;
    this.proxyHost = proxyHost;
    this.serverPort = serverPort;
  }
}

type Part = string | ((src: VariableSource) => string);

/** A header value with its variables resolved once, at load: evaluating it allocates only the result. */
export interface ValueTemplate {
  readonly parts: readonly Part[];
  /** The value has no variables. */
  readonly constant: string | null;
}

/** The first value of a request header, by lower-case name; '' when absent (as nginx). */
export function headerValue(raw: readonly string[], lowerName: string): string {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === lowerName) return raw[i + 1];
  return '';
}

const NO_VALUES: readonly string[] = [];

/** Every line of a request header, in order (real_ip walks them all). */
export function headerValues(raw: readonly string[], lowerName: string): readonly string[] {
  let out: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() !== lowerName) continue;
    out ??= [];
    out.push(raw[i + 1]);
  }
  return out ?? NO_VALUES;
}

/** nginx's $binary_remote_addr: 4 or 16 address bytes, as a latin1 string (one char per byte). */
function binaryRemoteAddr(src: VariableSource): string {
  const bytes = addressBytes(src.remoteAddress);
  return bytes === null ? '' : Buffer.from(bytes).toString('latin1');
}

export function cookieValue(raw: readonly string[], name: string): string {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() !== 'cookie') continue;
    for (const pair of raw[i + 1].split(';')) {
      const eq = pair.indexOf('=');
      if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
    }
  }
  return '';
}

/** nginx's $host: the Host header lower-cased, without its port. */
function host(src: VariableSource): string {
  const h = headerValue(src.rawHeaders, 'host').toLowerCase();
  const colon = h.startsWith('[') ? h.indexOf(']:') + 1 : h.lastIndexOf(':');
  return colon > 0 ? h.slice(0, colon) : h;
}

const NAMED: Readonly<Record<NginxVariable, (src: VariableSource) => string>> = {
  remote_addr: (s) => s.remoteAddress,
  binary_remote_addr: binaryRemoteAddr,
  remote_port: (s) => String(s.remotePort),
  proxy_add_x_forwarded_for: (s) => {
    const xff = headerValue(s.rawHeaders, 'x-forwarded-for');
    return xff === '' ? s.remoteAddress : `${xff}, ${s.remoteAddress}`;
  },
  host,
  request_uri: (s) => s.uri,
  request_method: (s) => s.method,
  args: (s) => {
    const q = s.uri.indexOf('?');
    return q === -1 ? '' : s.uri.slice(q + 1);
  },
  scheme: () => 'http',
  proxy_host: (s) => s.proxyHost,
  server_port: (s) => String(s.serverPort),
};

/** Variables a config defines itself (split_clients), by name without `$`. */
export type VariableScope = ReadonlyMap<string, (src: VariableSource) => string>;

const NO_SCOPE: VariableScope = new Map();

/** The config's split_clients as variables: each one hashes its evaluated source string. */
export function splitClientsScope(splits: readonly SplitClientsConfig[]): VariableScope {
  const scope = new Map<string, (src: VariableSource) => string>();
  for (const sc of splits) {
    const name = sc.variable.replace(/^\$/, '').toLowerCase();
    const source = compileValue(sc.source, `split_clients ${sc.source}`, scope);
    const split = SplitClients.fromConfig(sc);
    scope.set(name, (src) => split.value(Buffer.from(evaluate(source, src), 'latin1')));
  }
  return scope;
}

/**
 * Compiles a `proxy_set_header` value or a `hash` key: `$name` and `${name}` are nginx variables
 * (`$http_*`, `$cookie_*`, the ones in NAMED and the config's split_clients); an unknown one is
 * refused with `where` in the message.
 */
export function compileValue(
  text: string,
  where: string,
  scope: VariableScope = NO_SCOPE,
): ValueTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(VARIABLE_PATTERN)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const name = (m[1] ?? m[2]).toLowerCase();
    parts.push(scope.get(name) ?? variable(name, where));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  const constant = parts.every((p) => typeof p === 'string') ? parts.join('') : null;
  return { parts, constant };
}

function variable(name: string, where: string): (src: VariableSource) => string {
  if (name.startsWith('http_')) {
    const header = name.slice(5).replaceAll('_', '-');
    return (s) => headerValue(s.rawHeaders, header);
  }
  if (name.startsWith('cookie_')) {
    const cookie = name.slice(7);
    return (s) => cookieValue(s.rawHeaders, cookie);
  }
  if (name.startsWith('arg_')) {
    const arg = name.slice(4);
    return (s) => argValue(s.uri, arg);
  }
  const named = (NAMED as Readonly<Record<string, (src: VariableSource) => string>>)[name];
  if (named === undefined)
    throw new LegateError('LEGATE_CONFIG', `${where}: unknown variable $${name}`);
  return named;
}

/**
 * nginx's $arg_NAME: the raw (not decoded) value of the first `NAME=` argument of the query
 * string, the name compared without case as ngx_http_arg does; '' when absent.
 */
export function argValue(uri: string, name: string): string {
  let at = uri.indexOf('?') + 1;
  if (at === 0) return '';
  while (at < uri.length) {
    let end = uri.indexOf('&', at);
    if (end === -1) end = uri.length;
    if (
      end - at > name.length &&
      uri.charCodeAt(at + name.length) === 61 /* = */ &&
      uri.slice(at, at + name.length).toLowerCase() === name
    )
      return uri.slice(at + name.length + 1, end);
    at = end + 1;
  }
  return '';
}

export function evaluate(t: ValueTemplate, src: VariableSource): string {
  if (t.constant !== null) return t.constant;
  let out = '';
  for (const p of t.parts) out += typeof p === 'string' ? p : p(src);
  return out;
}
