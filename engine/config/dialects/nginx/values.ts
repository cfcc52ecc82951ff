/** nginx's value syntaxes: times, sizes, numbers, on/off, addresses. null means invalid. */
import type { Address } from '../../types.ts';

/** ngx_atoi: decimal digits only. */
export function parseNumber(text: string): number | null {
  return /^\d{1,15}$/.test(text) ? Number(text) : null;
}

const TIME_UNITS: readonly [string, number][] = [
  ['y', 365 * 86400000],
  ['M', 30 * 86400000],
  ['w', 7 * 86400000],
  ['d', 86400000],
  ['h', 3600000],
  ['m', 60000],
  ['s', 1000],
  ['ms', 1],
];

/**
 * ngx_parse_time: `30`, `30s`, `500ms`, `1m30s`, `1h 30m` — units y M w d h m s ms, each at most
 * once and largest first; a bare number is seconds. In milliseconds.
 */
export function parseTime(text: string): number | null {
  const parts = /^(?:\d+(?:y|M|w|d|h|ms|m|s)? ?)+$/.test(text)
    ? text.match(/\d+(?:ms|[yMwdhms])?/g)
    : null;
  if (parts === null) return null;
  let total = 0;
  let lastRank = -1;
  for (let k = 0; k < parts.length; k++) {
    const m = /^(\d+)(.*)$/.exec(parts[k])!;
    const unit = m[2] === '' ? 's' : m[2];
    if (m[2] === '' && k !== parts.length - 1) return null;
    const rank = TIME_UNITS.findIndex(([u]) => u === unit);
    if (rank <= lastRank) return null;
    lastRank = rank;
    total += Number(m[1]) * TIME_UNITS[rank][1];
  }
  return total > 0x7fffffff ? null : total;
}

/** ngx_parse_offset / ngx_parse_size: `1024`, `8k`, `1m`, `2g` (either case). In bytes. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (m === null) return null;
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()] ?? 1;
  return Number(m[1]) * scale;
}

export function parseFlag(text: string): boolean | null {
  if (text === 'on') return true;
  if (text === 'off') return false;
  return null;
}

export interface ListenAddress {
  readonly address: Address;
  /** The text as written, for messages. */
  readonly text: string;
}

/**
 * `listen`'s address: `80`, `127.0.0.1:8080`, `*:80`, `[::]:80`, `localhost:80`, `unix:/path`.
 * A port alone (or `*`) binds every IPv4 address, as nginx does.
 */
export function parseListenAddress(text: string): Address | string {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    return path === '' ? 'the socket path is missing after "unix:"' : { kind: 'unix', path };
  }
  let host = '0.0.0.0';
  let portText = text;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return `invalid IPv6 address in "${text}"`;
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest === '') portText = '80';
    else if (rest.startsWith(':')) portText = rest.slice(1);
    else return `invalid address "${text}"`;
  } else if (text.includes(':')) {
    const colon = text.lastIndexOf(':');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === '*') host = '0.0.0.0';
  } else if (!/^\d+$/.test(text)) {
    host = text === '*' ? '0.0.0.0' : text;
    portText = '80';
  }
  const port = parseNumber(portText);
  if (port === null || port < 1 || port > 65535) return `invalid port in "${text}"`;
  return { kind: 'tcp', host, port };
}

/** An upstream `server` address: `host[:port]` (port 80 when absent), `[v6]:port`, `unix:/path`. */
export function parseServerAddress(
  text: string,
): { host: string; port: number } | { unix: string } | string {
  if (text.startsWith('unix:')) {
    return text.length > 5 ? { unix: text.slice(5) } : 'no path in "unix:"';
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return `invalid host in upstream "${text}"`;
  let host = text;
  let port = 80;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return `invalid host in upstream "${text}"`;
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      const p = rest.startsWith(':') ? parseNumber(rest.slice(1)) : null;
      if (p === null || p < 1 || p > 65535) return `invalid port in upstream "${text}"`;
      port = p;
    }
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      const p = parseNumber(text.slice(colon + 1));
      if (p === null || p < 1 || p > 65535) return `invalid port in upstream "${text}"`;
      port = p;
    }
  }
  if (host === '' || /[\s/]/.test(host)) return `invalid host in upstream "${text}"`;
  return { host, port };
}
