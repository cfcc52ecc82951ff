/**
 * The native `tcp:` section (the service broker): services, each with its servers per
 * environment profile (LEGATE_ENV, else `tcp.env`), balancing, checks, timeouts and DNS.
 * Each service becomes one backend of the same name in the model (tcp-types.ts).
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { parseHost, parseListen, parsePort } from './address.ts';
import { duration } from './duration.ts';
import type { ListenClaim } from './pool.ts';
import {
  boolean,
  describe,
  type Entry,
  integer,
  isNull,
  oneOf,
  type Parsed,
  parsed,
  type Reader,
  readMap,
  rejectUnknown,
  type Slot,
  slotOf,
  text,
} from './read.ts';
import type { ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';
import { DEFAULT_TIMING, readCheck } from './tcp-check.ts';
import {
  type DnsConfig,
  TCP_BALANCES,
  type TcpBackendConfig,
  type TcpConfig,
  type TcpServerSpec,
  type TcpServiceConfig,
} from './tcp-types.ts';
import type { Address } from './types.ts';

const TCP_KEYS = ['env', 'services'];
export const SERVICE_KEYS = [
  'listen',
  'maxconn',
  'balance',
  'servers',
  'check',
  'postgres',
  'connect_timeout',
  'client_timeout',
  'server_timeout',
  'client_fin_timeout',
  'tunnel_timeout',
  'queue_timeout',
  'retries',
  'redispatch',
  'on_down',
  'all_backups',
  'dns',
];
export const SERVER_KEYS = [
  'address',
  'name',
  'weight',
  'backup',
  'maxconn',
  'check',
  'send_proxy',
  'resolve',
  'init_addr_none',
];
const DNS_KEYS = ['interval', 'nameservers', 'hold_valid', 'retries', 'retry'];

/** Defaults, HAProxy's where it has one (connect timeout: legate's, HAProxy warns without one). */
export const TCP_DEFAULTS = {
  connectTimeoutMs: 5000,
  retries: 3,
  dnsIntervalMs: 1000,
  holdValidMs: 10000,
  dnsRetries: 3,
  dnsRetryMs: 1000,
} as const;

/** `host:port` of a server: a name or an address, resolved later. */
export function parseServerAddress(input: string): Parsed<{ host: string; port: number }> {
  const value = input.trim();
  const colon = value.lastIndexOf(':');
  if (colon < 0)
    return { ok: false, error: `expected 'host:port' or '[ipv6]:port', got '${input}'` };
  const hostText = value.slice(0, colon);
  if (hostText.includes(':') && !hostText.startsWith('['))
    return {
      ok: false,
      error: `an IPv6 address needs brackets, like '[::1]:5432', got '${input}'`,
    };
  const host = parseHost(hostText);
  if (!host.ok) return { ok: false, error: `${host.error}; expected 'host:port', got '${input}'` };
  const port = parsePort(value.slice(colon + 1));
  if (!port.ok) return port;
  return { ok: true, value: { host: host.value, port: port.value } };
}

/** A listen value or a list of them. */
function readListen(slot: Slot, src: ConfigSource): Address[] | undefined {
  const one = parsed(parseListen);
  if (!isSeq(slot.node)) {
    const a = one(slot, src);
    return a === undefined ? undefined : [a];
  }
  const out: Address[] = [];
  let ok = slot.node.items.length > 0;
  if (!ok)
    src.report(slot.place, slot.path, "expected 'host:port' or a list of them, got an empty list");
  slot.node.items.forEach((item, i) => {
    const node = src.deref(item as Node);
    const a = one({ node, place: node ?? slot.place, path: `${slot.path}[${i}]` }, src);
    if (a === undefined) ok = false;
    else out.push(a);
  });
  return ok ? out : undefined;
}

/** Values a service's keys hold, readers and their defaults. */
class Keys {
  readonly #given: Map<string, Entry>;
  readonly #src: ConfigSource;
  ok = true;
  constructor(given: Map<string, Entry>, src: ConfigSource) {
    this.#given = given;
    this.#src = src;
  }
  get(key: string): Entry | undefined {
    return this.#given.get(key);
  }
  read<T>(key: string, reader: Reader<T>, fallback: T): T {
    const e = this.#given.get(key);
    if (e === undefined || isNull(e.value)) return fallback;
    const v = reader(slotOf(e), this.#src);
    if (v === undefined) {
      this.ok = false;
      return fallback;
    }
    return v;
  }
}

interface ServiceContext {
  readonly checkOn: boolean;
  readonly timing: typeof DEFAULT_TIMING;
  readonly dnsOn: boolean;
}

function readServer(
  node: Node | null,
  place: Node | Entry['place'],
  path: string,
  src: ConfigSource,
  ctx: ServiceContext,
  source: string,
): TcpServerSpec | undefined {
  if (isScalar(node)) {
    const addr = parsed(parseServerAddress)({ node, place: node, path }, src);
    if (addr === undefined) return undefined;
    return server(addr, {}, ctx, source);
  }
  const entries = readMap(
    node,
    place,
    path,
    src,
    "a server: 'host:port' or a mapping with 'address'",
  );
  if (entries === undefined) return undefined;
  const keys = new Keys(
    new Map(rejectUnknown(entries, SERVER_KEYS, src, 'a server').map((e) => [e.key, e])),
    src,
  );
  keys.ok = keys.ok && entries.every((e) => SERVER_KEYS.includes(e.key));
  const addressEntry = keys.get('address');
  if (addressEntry === undefined) {
    src.report(node ?? place, path, "a server needs 'address' (host:port)");
    return undefined;
  }
  const addr = keys.read('address', parsed(parseServerAddress), undefined);
  const options = {
    name: keys.read<string | undefined>('name', text, undefined),
    weight: keys.read('weight', integer({ min: 0, max: 256 }), 1),
    backup: keys.read('backup', boolean, false),
    maxconn: keys.read<number | null>('maxconn', integer({ min: 1 }), null),
    check: keys.read('check', boolean, ctx.checkOn),
    sendProxy: keys.read<'v1' | 'v2' | null>('send_proxy', oneOf(['v1', 'v2'] as const), null),
    resolve: keys.read('resolve', boolean, ctx.dnsOn),
    initAddrNone: keys.read('init_addr_none', boolean, false),
  };
  if (options.check && !ctx.checkOn && keys.get('check') !== undefined) {
    const e = keys.get('check') as Entry;
    src.report(
      e.place,
      e.path,
      "check: true needs a 'check:' section on the service (what to send, how often)",
    );
    return undefined;
  }
  if (!keys.ok || addr === undefined) return undefined;
  return server(addr, options, ctx, source);
}

function server(
  addr: { host: string; port: number },
  o: Partial<Omit<TcpServerSpec, 'host' | 'port' | 'timing' | 'source' | 'name'>> & {
    name?: string;
  },
  ctx: ServiceContext,
  source: string,
): TcpServerSpec {
  return {
    name: o.name ?? `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`,
    host: addr.host,
    port: addr.port,
    weight: o.weight ?? 1,
    backup: o.backup ?? false,
    maxconn: o.maxconn ?? null,
    check: o.check ?? ctx.checkOn,
    timing: ctx.timing,
    sendProxy: o.sendProxy ?? null,
    resolve: o.resolve ?? ctx.dnsOn,
    initAddrNone: o.initAddrNone ?? false,
    source,
    id: null,
  };
}

function readServerList(
  entry: { value: Node | null; place: Entry['place']; path: string },
  src: ConfigSource,
  ctx: ServiceContext,
): TcpServerSpec[] | undefined {
  if (!isSeq(entry.value) || entry.value.items.length === 0) {
    src.report(
      entry.place,
      entry.path,
      `expected a list of servers ('host:port' or mappings with 'address'), got ${describe(entry.value)}`,
    );
    return undefined;
  }
  const out: TcpServerSpec[] = [];
  let ok = true;
  entry.value.items.forEach((item, i) => {
    const node = src.deref(item as Node);
    const path = `${entry.path}[${i}]`;
    const s = readServer(
      node,
      node ?? entry.place,
      path,
      src,
      ctx,
      `${src.file}:${src.lineOf(node ?? entry.place)}`,
    );
    if (s === undefined) ok = false;
    else out.push(s);
  });
  if (!ok) return undefined;
  const seen = new Map<string, number>();
  for (const [i, s] of out.entries()) {
    const first = seen.get(s.name);
    if (first !== undefined) {
      const node = src.deref(entry.value.items[i] as Node);
      src.report(
        node ?? entry.place,
        `${entry.path}[${i}]`,
        `two servers are named '${s.name}' (also ${entry.path}[${first}]); give each its own name`,
      );
      ok = false;
    }
    seen.set(s.name, i);
  }
  return ok ? out : undefined;
}

/** `servers:` as a list, or as profiles (a mapping of profile name to list) chosen by `env`. */
function readServers(
  entry: Entry,
  src: ConfigSource,
  ctx: ServiceContext,
  env: { name: string | null; from: string },
): TcpServerSpec[] | undefined {
  if (!isMap(entry.value)) return readServerList(entry, src, ctx);
  const profiles = readMap(
    entry.value,
    entry.place,
    entry.path,
    src,
    'a list of servers, or profiles (name: list of servers)',
  );
  if (profiles === undefined) return undefined;
  const names = profiles.map((p) => p.key);
  if (env.name === null) {
    src.report(
      entry.keyNode,
      entry.path,
      `servers come in profiles (${names.join(', ')}): set LEGATE_ENV, or name the default with 'env:' under 'tcp:'`,
    );
    return undefined;
  }
  const chosen = profiles.find((p) => p.key === env.name);
  if (chosen === undefined) {
    src.report(
      entry.keyNode,
      entry.path,
      `no profile '${env.name}' (${env.from}); profiles here: ${names.join(', ')}${didYouMean(env.name, names)}`,
    );
    return undefined;
  }
  // Every profile is checked, so a mistake in prod's list fails in dev too, not at deploy time.
  let ok = true;
  for (const p of profiles)
    if (p !== chosen && readServerList(p, src, ctx) === undefined) ok = false;
  const servers = readServerList(chosen, src, ctx);
  return ok ? servers : undefined;
}

function readDns(entry: Entry, src: ConfigSource): DnsConfig | undefined {
  const entries = readMap(
    entry.value,
    entry.place,
    entry.path,
    src,
    `a mapping with ${DNS_KEYS.join(', ')}`,
  );
  if (entries === undefined) return undefined;
  const keys = new Keys(
    new Map(rejectUnknown(entries, DNS_KEYS, src, "'dns'").map((e) => [e.key, e])),
    src,
  );
  keys.ok = entries.every((e) => DNS_KEYS.includes(e.key));
  const nameservers: { host: string; port: number }[] = [];
  const ns = keys.get('nameservers');
  if (ns !== undefined && !isNull(ns.value)) {
    if (!isSeq(ns.value)) {
      src.report(ns.place, ns.path, `expected a list of 'ip:port', got ${describe(ns.value)}`);
      keys.ok = false;
    } else {
      ns.value.items.forEach((item, i) => {
        const node = src.deref(item as Node);
        const a = parsed(parseServerAddress)(
          { node, place: node ?? ns.place, path: `${ns.path}[${i}]` },
          src,
        );
        if (a === undefined) keys.ok = false;
        else nameservers.push(a);
      });
    }
  }
  const dns: DnsConfig = {
    nameservers,
    intervalMs: keys.read('interval', duration({ min: 100 }), TCP_DEFAULTS.dnsIntervalMs),
    holdValidMs: keys.read('hold_valid', duration({ min: 0 }), TCP_DEFAULTS.holdValidMs),
    retries: keys.read('retries', integer({ min: 0 }), TCP_DEFAULTS.dnsRetries),
    retryMs: keys.read('retry', duration({ min: 10 }), TCP_DEFAULTS.dnsRetryMs),
  };
  return keys.ok ? dns : undefined;
}

function readService(
  entry: Entry,
  src: ConfigSource,
  env: { name: string | null; from: string },
  claims: ListenClaim[],
): { service: TcpServiceConfig; backend: TcpBackendConfig } | undefined {
  const name = entry.key;
  const entries = readMap(
    entry.value,
    entry.place,
    entry.path,
    src,
    "a service (a mapping with 'listen' and 'servers')",
  );
  if (entries === undefined) return undefined;
  const keys = new Keys(
    new Map(rejectUnknown(entries, SERVICE_KEYS, src, `service '${name}'`).map((e) => [e.key, e])),
    src,
  );
  keys.ok = entries.every((e) => SERVICE_KEYS.includes(e.key));
  for (const required of ['listen', 'servers']) {
    if (keys.get(required) === undefined) {
      src.report(
        entry.keyNode,
        entry.path,
        `service '${name}' has no '${required}', which is required`,
      );
      keys.ok = false;
    }
  }
  const listen = keys.read<Address[] | undefined>('listen', readListen, undefined);
  const listenEntry = keys.get('listen');
  if (listen !== undefined && listenEntry !== undefined)
    for (const address of listen)
      claims.push({
        address,
        owner: `service '${name}'`,
        place: listenEntry.place,
        path: listenEntry.path,
      });
  const checkEntry = keys.get('check');
  const check =
    checkEntry === undefined || isNull(checkEntry.value) ? null : readCheck(checkEntry, src);
  if (check === undefined) keys.ok = false;
  const dnsEntry = keys.get('dns');
  const dns = dnsEntry === undefined || isNull(dnsEntry.value) ? null : readDns(dnsEntry, src);
  if (dns === undefined) keys.ok = false;
  const ctx: ServiceContext = {
    checkOn: check != null,
    timing: check?.timing ?? DEFAULT_TIMING,
    dnsOn: dns != null,
  };
  const serversEntry = keys.get('servers');
  const servers = serversEntry === undefined ? undefined : readServers(serversEntry, src, ctx, env);
  const checkKind = check?.kind ?? { kind: 'tcp' as const };
  const connectTimeoutMs = keys.read(
    'connect_timeout',
    duration({ min: 1 }),
    TCP_DEFAULTS.connectTimeoutMs,
  );
  const backend: Omit<TcpBackendConfig, 'servers'> = {
    name,
    balance: keys.read('balance', oneOf(TCP_BALANCES), 'roundrobin'),
    check: checkKind,
    postgres: keys.read('postgres', boolean, checkKind.kind === 'postgres'),
    connectTimeoutMs,
    serverTimeoutMs: keys.read<number | null>('server_timeout', duration({ min: 1 }), null),
    tunnelTimeoutMs: keys.read<number | null>('tunnel_timeout', duration({ min: 1 }), null),
    queueTimeoutMs: keys.read<number | null>('queue_timeout', duration({ min: 1 }), null),
    retries: keys.read('retries', integer({ min: 0, max: 100 }), TCP_DEFAULTS.retries),
    // Natively the last retry moves on by default: a broker that fails over is why it is there.
    redispatch: keys.read('redispatch', boolean, true),
    shutdownSessionsOnDown:
      keys.read('on_down', oneOf(['keep', 'close'] as const), 'keep') === 'close',
    allBackups: keys.read('all_backups', boolean, false),
    dns: dns ?? null,
  };
  const service: TcpServiceConfig = {
    name,
    listen: listen ?? [],
    maxconn: keys.read<number | null>('maxconn', integer({ min: 1 }), null),
    backend: name,
    clientTimeoutMs: keys.read<number | null>('client_timeout', duration({ min: 1 }), null),
    clientFinTimeoutMs: keys.read<number | null>('client_fin_timeout', duration({ min: 1 }), null),
  };
  if (!keys.ok || servers === undefined || listen === undefined) return undefined;
  return { service, backend: { ...backend, servers } };
}

/**
 * `tcp:` of a legate.yml. `env` is the process environment (LEGATE_ENV picks the profile);
 * `claims` receives every listen address, to find clashes with pools and the admin endpoint.
 */
export function readTcp(
  entry: Entry,
  src: ConfigSource,
  processEnv: NodeJS.ProcessEnv,
  claims: ListenClaim[],
): TcpConfig {
  const entries = readMap(
    entry.value,
    entry.place,
    entry.path,
    src,
    "a mapping with 'services' (and optionally 'env')",
  );
  const empty: TcpConfig = { services: [], backends: [] };
  if (entries === undefined) return empty;
  const given = new Map(rejectUnknown(entries, TCP_KEYS, src, "'tcp'").map((e) => [e.key, e]));
  const envEntry = given.get('env');
  const fileEnv = envEntry === undefined ? null : (text(slotOf(envEntry), src) ?? null);
  const fromProcess = processEnv.LEGATE_ENV !== undefined && processEnv.LEGATE_ENV !== '';
  const env = fromProcess
    ? { name: (processEnv.LEGATE_ENV as string).trim(), from: 'from LEGATE_ENV' }
    : { name: fileEnv, from: `tcp.env on line ${envEntry ? src.lineOf(envEntry.keyNode) : 0}` };
  const servicesEntry = given.get('services');
  if (servicesEntry === undefined) {
    src.report(
      entry.keyNode,
      entry.path,
      "'tcp' has no 'services'; add one as a name with listen and servers",
    );
    return empty;
  }
  const services = readMap(
    servicesEntry.value,
    servicesEntry.place,
    servicesEntry.path,
    src,
    'a mapping of service names to services',
  );
  if (services === undefined) return empty;
  if (services.length === 0) {
    src.report(
      servicesEntry.place,
      servicesEntry.path,
      'has no services; add one as a name with listen and servers',
    );
    return empty;
  }
  const out: TcpServiceConfig[] = [];
  const backends: TcpBackendConfig[] = [];
  for (const s of services) {
    const read = readService(s, src, env, claims);
    if (read === undefined) continue;
    out.push(read.service);
    backends.push(read.backend);
  }
  return { services: out, backends };
}
