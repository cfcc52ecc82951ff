import { parseHost, parsePort } from './address.ts';
import type { Parsed } from './read.ts';
import type { Address, ServerSpec } from './types.ts';

export const SERVER_FORM = "'host:port:weight [name]' or '/path/to.sock:weight [name]'";

/** twemproxy leaves the port out of the name for 11211, to hash like libmemcached did. */
const MEMCACHED_PORT = 11211;

function fail<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

/**
 * One `servers:` line, read from the end as twemproxy reads it: an optional name after the last
 * space, then the weight after the last ':', then (for TCP) the port after the ':' before it.
 * Reading from the end is what lets an unbracketed IPv6 host (`::1:6379:1`) through, as twemproxy does.
 */
export function parseServerLine(line: string): Parsed<ServerSpec> {
  const trimmed = line.trim();
  const form = `expected ${SERVER_FORM}, got '${line}'`;
  const space = trimmed.search(/\s\S*$/);
  const given = space < 0 ? null : trimmed.slice(space + 1);
  const body = space < 0 ? trimmed : trimmed.slice(0, space).trimEnd();
  const weightColon = body.lastIndexOf(':');
  if (weightColon < 0) return fail(form);
  const addressText = body.slice(0, weightColon);
  const weightText = body.slice(weightColon + 1);

  let address: Address;
  let defaultName: string;
  if (addressText.startsWith('/')) {
    address = { kind: 'unix', path: addressText };
    defaultName = addressText;
  } else {
    const portColon = addressText.lastIndexOf(':');
    if (portColon < 0) return fail(`${form} (is the weight missing?)`);
    const hostText = addressText.slice(0, portColon);
    const host = parseHost(hostText);
    if (!host.ok) return fail(`${host.error}; ${form}`);
    const port = parsePort(addressText.slice(portColon + 1));
    if (!port.ok) return port;
    address = { kind: 'tcp', host: host.value, port: port.value };
    defaultName = port.value === MEMCACHED_PORT ? hostText : addressText;
  }

  if (!/^-?\d+$/.test(weightText)) {
    return fail(`the weight must be a whole number of at least 1, got '${weightText}'`);
  }
  const weight = Number(weightText);
  if (weight < 1) return fail(`the weight must be at least 1, got ${weight}`);
  return { ok: true, value: { address, weight, name: given ?? defaultName, source: line } };
}

/** twemproxy's order: shorter name first, then bytewise; the index in this order is the server id. */
export function compareServerNames(a: string, b: string): number {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ba.length !== bb.length ? ba.length - bb.length : Buffer.compare(ba, bb);
}

export function sortServers(servers: readonly ServerSpec[]): ServerSpec[] {
  return [...servers].sort((x, y) => compareServerNames(x.name, y.name));
}
