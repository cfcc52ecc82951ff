/**
 * The proxy, client and real-IP directives that nginx inherits http → server → location: each
 * level holds what it sets; `inherit` fills the rest from the level above. Arrays
 * (proxy_set_header, set_real_ip_from) are inherited only when a level sets none, as in nginx.
 */
import { isIP } from 'node:net';
import type { HeaderSetting } from '../../http-types.ts';
import type { NginxReport } from './report.ts';
import type { Directive } from './tree.ts';
import { parseFlag, parseNumber, parseSize, parseTime } from './values.ts';

export type Level = 'http' | 'server' | 'location';

export interface Settings {
  setHeaders?: HeaderSetting[];
  httpVersion?: '1.0' | '1.1';
  connectTimeoutMs?: number;
  sendTimeoutMs?: number;
  readTimeoutMs?: number;
  nextUpstream?: string[];
  nextUpstreamTries?: number;
  clientMaxBodySize?: number;
  clientHeaderTimeoutMs?: number;
  clientBodyTimeoutMs?: number;
  keepaliveTimeoutMs?: number;
  realIpFrom?: string[];
  realIpHeader?: string;
  realIpRecursive?: boolean;
}

/** nginx's defaults (facts/nginx.md). */
export const DEFAULTS: Required<Settings> = {
  setHeaders: [],
  httpVersion: '1.0',
  connectTimeoutMs: 60000,
  sendTimeoutMs: 60000,
  readTimeoutMs: 60000,
  nextUpstream: ['error', 'timeout'],
  nextUpstreamTries: 0,
  clientMaxBodySize: 1024 * 1024,
  clientHeaderTimeoutMs: 60000,
  clientBodyTimeoutMs: 60000,
  keepaliveTimeoutMs: 75000,
  realIpFrom: [],
  realIpHeader: 'x-real-ip',
  realIpRecursive: false,
};

/** proxy_next_upstream's values. */
export const NEXT_UPSTREAM = [
  'error',
  'timeout',
  'invalid_header',
  'http_500',
  'http_502',
  'http_503',
  'http_504',
  'http_403',
  'http_404',
  'http_429',
  'non_idempotent',
  'off',
] as const;

/** Where each directive may appear (nginx's NGX_HTTP_*_CONF flags). */
const LEVELS: Readonly<Record<string, readonly Level[]>> = {
  proxy_set_header: ['http', 'server', 'location'],
  proxy_http_version: ['http', 'server', 'location'],
  proxy_connect_timeout: ['http', 'server', 'location'],
  proxy_send_timeout: ['http', 'server', 'location'],
  proxy_read_timeout: ['http', 'server', 'location'],
  proxy_next_upstream: ['http', 'server', 'location'],
  proxy_next_upstream_tries: ['http', 'server', 'location'],
  client_max_body_size: ['http', 'server', 'location'],
  client_header_timeout: ['http', 'server'],
  client_body_timeout: ['http', 'server', 'location'],
  keepalive_timeout: ['http', 'server', 'location'],
  set_real_ip_from: ['http', 'server'],
  real_ip_header: ['http', 'server'],
  real_ip_recursive: ['http', 'server'],
};

/** A trusted address for set_real_ip_from: an address, a CIDR, or `unix:`. */
function validCidr(text: string): boolean {
  if (text === 'unix:') return true;
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = parseNumber(text.slice(slash + 1));
  return bits !== null && bits <= (family === 4 ? 32 : 128);
}

/**
 * Reads `d` into `into` when it is one of these directives; false when it is not one of them.
 * Directives outside their levels are reported as nginx does ("not allowed here"); location-level
 * real-IP settings are refused (legate resolves the client address once per connection's server).
 */
export function readSetting(
  d: Directive,
  level: Level,
  into: Settings,
  report: NginxReport,
): boolean {
  const levels = LEVELS[d.name];
  if (levels === undefined) return false;
  if (!levels.includes(level)) {
    report.at(
      d,
      level === 'location' && (d.name.startsWith('real_ip') || d.name === 'set_real_ip_from')
        ? `"${d.name}" directive is not allowed in a location in legate; set it in server or http`
        : `"${d.name}" directive is not allowed here`,
    );
    return true;
  }
  if (!report.shape(d, false)) return true;
  const a = d.args;
  const one = () => report.arity(d, 1);
  const time = (set: (ms: number) => void) => {
    if (!one()) return;
    const ms = parseTime(a[0].text);
    if (ms === null) report.at(d, `invalid time "${a[0].text}"`, a[0]);
    else set(ms);
  };
  switch (d.name) {
    case 'proxy_set_header':
      if (!report.arity(d, 2)) break;
      into.setHeaders ??= [];
      into.setHeaders.push({ name: a[0].text, value: a[1].text });
      break;
    case 'proxy_http_version':
      if (!one()) break;
      if (a[0].text === '1.0' || a[0].text === '1.1') into.httpVersion = a[0].text;
      else report.at(d, `invalid value "${a[0].text}" (1.0 or 1.1)`, a[0]);
      break;
    case 'proxy_connect_timeout':
      time((ms) => {
        into.connectTimeoutMs = ms;
      });
      break;
    case 'proxy_send_timeout':
      time((ms) => {
        into.sendTimeoutMs = ms;
      });
      break;
    case 'proxy_read_timeout':
      time((ms) => {
        into.readTimeoutMs = ms;
      });
      break;
    case 'client_header_timeout':
      time((ms) => {
        into.clientHeaderTimeoutMs = ms;
      });
      break;
    case 'client_body_timeout':
      time((ms) => {
        into.clientBodyTimeoutMs = ms;
      });
      break;
    case 'keepalive_timeout':
      // The second argument (the Keep-Alive: timeout= header) is not sent by legate.
      if (!report.arity(d, 1, 2)) break;
      {
        const ms = parseTime(a[0].text);
        if (ms === null) report.at(d, `invalid time "${a[0].text}"`, a[0]);
        else into.keepaliveTimeoutMs = ms;
        if (a.length === 2)
          report.warn(
            d,
            'the header timeout (second value) is ignored: legate sends no Keep-Alive header',
          );
      }
      break;
    case 'proxy_next_upstream': {
      if (!report.arity(d, 1, NEXT_UPSTREAM.length)) break;
      const values: string[] = [];
      for (const arg of a) {
        if (!(NEXT_UPSTREAM as readonly string[]).includes(arg.text))
          report.at(d, `invalid value "${arg.text}"`, arg);
        else values.push(arg.text);
      }
      if (values.includes('off') && values.length > 1) {
        report.at(d, 'invalid parameter "off": it cannot be combined with other values');
      }
      into.nextUpstream = values;
      break;
    }
    case 'proxy_next_upstream_tries': {
      if (!one()) break;
      const n = parseNumber(a[0].text);
      if (n === null) report.at(d, `invalid value "${a[0].text}"`, a[0]);
      else into.nextUpstreamTries = n;
      break;
    }
    case 'client_max_body_size': {
      if (!one()) break;
      const n = parseSize(a[0].text);
      if (n === null) report.at(d, `invalid value "${a[0].text}"`, a[0]);
      else into.clientMaxBodySize = n;
      break;
    }
    case 'set_real_ip_from':
      if (!one()) break;
      if (!validCidr(a[0].text)) {
        report.at(
          d,
          `invalid address or network "${a[0].text}" (legate does not resolve host names here)`,
          a[0],
        );
        break;
      }
      into.realIpFrom ??= [];
      into.realIpFrom.push(a[0].text);
      break;
    case 'real_ip_header':
      if (!one()) break;
      into.realIpHeader = a[0].text.toLowerCase();
      break;
    case 'real_ip_recursive': {
      if (!one()) break;
      const flag = parseFlag(a[0].text);
      if (flag === null)
        report.at(d, `invalid value "${a[0].text}", it must be "on" or "off"`, a[0]);
      else into.realIpRecursive = flag;
      break;
    }
  }
  return true;
}

/** `child` with everything it does not set taken from `parent`. */
export function inherit(child: Settings, parent: Settings): Settings {
  const out: Settings = { ...parent };
  for (const [key, value] of Object.entries(child)) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** `s` with nginx's defaults where nothing set a value. */
export function complete(s: Settings): Required<Settings> {
  return inherit(s, DEFAULTS) as Required<Settings>;
}
