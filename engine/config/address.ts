import type { Parsed } from './read.ts';
import type { Address } from './types.ts';

const LISTEN_FORM = "'host:port', '[ipv6]:port' or '/path/to.sock [mode]'";

function fail<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

/** A decimal port in 1..65535; the message is the one every address form shares. */
export function parsePort(text: string): Parsed<number> {
  if (!/^\d+$/.test(text)) return fail(`expected a port number, got '${text}'`);
  const port = Number(text);
  if (port < 1 || port > 65535) return fail(`port must be between 1 and 65535, got ${port}`);
  return { ok: true, value: port };
}

/** `[::1]` → `::1`; anything with whitespace or an empty host cannot be dialled or bound. */
export function parseHost(text: string): Parsed<string> {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (host === '') return fail('the host is missing');
  if (/[\s[\]]/.test(host)) return fail(`'${text}' is not a host name or address`);
  return { ok: true, value: host };
}

/**
 * A `listen:` value as twemproxy takes it: `host:port`, `[v6]:port`, or a unix socket path,
 * optionally followed by the socket's octal permissions (`/tmp/x.sock 0666`).
 */
export function parseListen(input: string): Parsed<Address> {
  const text = input.trim();
  if (text.startsWith('/')) {
    const [path, mode, ...rest] = text.split(/\s+/);
    if (rest.length > 0) return fail(`expected ${LISTEN_FORM}, got '${input}'`);
    if (mode === undefined) return { ok: true, value: { kind: 'unix', path } };
    if (!/^0?[0-7]{3,4}$/.test(mode) || Number.parseInt(mode, 8) > 0o7777) {
      return fail(`socket permissions must be octal like 0666, got '${mode}'`);
    }
    return { ok: true, value: { kind: 'unix', path, mode: Number.parseInt(mode, 8) } };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0 || /\s/.test(text)) return fail(`expected ${LISTEN_FORM}, got '${input}'`);
  const hostText = text.slice(0, colon);
  if (hostText.includes(':') && !hostText.startsWith('[')) {
    return fail(`an IPv6 address needs brackets, like '[::1]:6379', got '${input}'`);
  }
  const host = parseHost(hostText);
  if (!host.ok) return fail(`${host.error}; expected ${LISTEN_FORM}, got '${input}'`);
  const port = parsePort(text.slice(colon + 1));
  if (!port.ok) return port;
  return { ok: true, value: { kind: 'tcp', host: host.value, port: port.value } };
}

/** The address as a user would write it, for messages and for telling two listeners apart. */
export function formatAddress(address: Address): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}
