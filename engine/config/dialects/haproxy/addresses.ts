/**
 * `bind` and `server` addresses as HAProxy writes them (str2sa_range): `host:port`, `:port` and
 * `*:port` (every IPv4 address), `[v6]:port`, `::1:port` (the last colon separates the port),
 * `ipv4@…`/`ipv6@…` prefixes, unix sockets (`/path`, `unix@/path`) for `bind` only.
 */
import { parsePort } from '../../address.ts';
import type { Address } from '../../types.ts';

export type AddressResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

const FAMILY =
  /^(ipv4|ipv6|unix|abns|fd|sockpair|udp|udp4|udp6|quic4|quic6|uxst|uxdg|tcp|tcp4|tcp6|rhttp)@/;

function splitHostPort(text: string): { host: string; port: string } | null {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    return { host: text.slice(1, close), port: text.slice(close + 2) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return null;
  return { host: text.slice(0, colon), port: text.slice(colon + 1) };
}

/** One address of a `bind` line (a line may list several, comma-separated). */
export function parseBindAddress(text: string): AddressResult<Address> {
  const family = FAMILY.exec(text)?.[1];
  let rest = family === undefined ? text : text.slice(family.length + 1);
  if (family === 'unix' || (family === undefined && rest.startsWith('/'))) {
    return { ok: true, value: { kind: 'unix', path: rest } };
  }
  if (
    family !== undefined &&
    family !== 'ipv4' &&
    family !== 'ipv6' &&
    family !== 'tcp' &&
    family !== 'tcp4' &&
    family !== 'tcp6'
  ) {
    return {
      ok: false,
      error: `'${family}@' addresses are not supported by legate; bind a host:port or a unix socket path`,
    };
  }
  const parts = splitHostPort(rest);
  if (parts === null || parts.port === '') {
    return {
      ok: false,
      error: `missing port in bind address '${text}'; write host:port, :port or [ipv6]:port`,
    };
  }
  if (/^\d+-\d+$/.test(parts.port)) {
    return {
      ok: false,
      error: `port range '${parts.port}' is not supported; list the ports, like bind :5432,:5433`,
    };
  }
  const port = parsePort(parts.port);
  if (!port.ok) return { ok: false, error: `${port.error} in bind address '${text}'` };
  rest = parts.host;
  const any = family === 'ipv6' || family === 'tcp6' ? '::' : '0.0.0.0';
  const host = rest === '' || rest === '*' ? any : rest;
  return { ok: true, value: { kind: 'tcp', host, port: port.value } };
}

/** A `server` address. HAProxy lets the port be left out (the client's destination port); legate needs it. */
export function parseServerAddress(text: string): AddressResult<{ host: string; port: number }> {
  const family = FAMILY.exec(text)?.[1];
  if (family !== undefined && family !== 'ipv4' && family !== 'ipv6') {
    return {
      ok: false,
      error: `'${family}@' server addresses are not supported by legate; give host:port`,
    };
  }
  const rest = family === undefined ? text : text.slice(family.length + 1);
  if (rest.startsWith('/')) {
    return {
      ok: false,
      error: `unix socket servers ('${text}') are not supported by legate's broker; give host:port`,
    };
  }
  const parts = splitHostPort(rest);
  if (parts === null || parts.port === '') {
    return {
      ok: false,
      error: `server address '${text}' has no port; HAProxy would use the client's destination port, legate needs it written (host:port)`,
    };
  }
  if (/^[+-]/.test(parts.port)) {
    return {
      ok: false,
      error: `port offset '${parts.port}' is not supported; write the server's port`,
    };
  }
  const port = parsePort(parts.port);
  if (!port.ok) return { ok: false, error: `${port.error} in server address '${text}'` };
  return { ok: true, value: { host: parts.host, port: port.value } };
}
