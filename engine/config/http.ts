/**
 * The native `http:` section of a legate.yml: the same model an nginx.conf gives
 * (http-types.ts), said plainly. Times are milliseconds, sizes bytes (or `512k`, `10m`, `1g`).
 * Defaults are nginx's; README "The http: section" lists every key.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { parseListen } from './address.ts';
import { DEFAULTS, NEXT_UPSTREAM } from './dialects/nginx/settings.ts';
import { ALLOWED_SERVER_PARAMETERS } from './dialects/nginx/upstream.ts';
import { parseServerAddress, parseSize } from './dialects/nginx/values.ts';
import {
  ROUTE_GUARD_KEYS,
  readRouteRouter,
  readUpstreamGuard,
  UPSTREAM_GUARD_KEYS,
} from './guard-keys.ts';
import {
  type EnvoyRouter,
  type HeaderSetting,
  HTTP_BALANCERS,
  type HttpConfig,
  type HttpServerBlockConfig,
  type HttpServerSpec,
  type LocationConfig,
  type ProxySettings,
  type SplitClientsConfig,
  type StickyCookie,
  type UpstreamConfig,
} from './http-types.ts';
import type { ListenClaim } from './pool.ts';
import {
  boolean,
  describe,
  type Entry,
  integer,
  isNull,
  joinPath,
  oneOf,
  parsed,
  readMap,
  rejectUnknown,
  scalarText,
  slotOf,
  text,
} from './read.ts';
import type { ConfigSource } from './source.ts';
import { HTTP_ENGINES } from './types.ts';

const PROXY_KEYS = [
  'set_headers',
  'http_version',
  'connect_timeout',
  'send_timeout',
  'read_timeout',
  'next_upstream',
  'next_upstream_tries',
] as const;

const ms = integer({ min: 0, max: 0x7fffffff });

function section(
  entry: Entry,
  keys: readonly string[],
  src: ConfigSource,
  what: string,
): Map<string, Entry> | undefined {
  const entries = readMap(entry.value, entry.place, entry.path, src, `${what} (a mapping)`);
  if (entries === undefined) return undefined;
  return new Map(rejectUnknown(entries, keys, src, what).map((e) => [e.key, e]));
}

/** The items of a list, each as an Entry whose path is `path[i]`. */
function listItems(entry: Entry, src: ConfigSource, what: string): Entry[] | undefined {
  if (!isSeq(entry.value)) {
    src.report(entry.place, entry.path, `expected ${what}, got ${describe(entry.value)}`);
    return undefined;
  }
  return entry.value.items.map((item, i) => {
    const node = src.deref(item as Node | null);
    return {
      key: String(i),
      keyNode: entry.keyNode,
      value: node,
      place: node ?? entry.place,
      path: `${entry.path}[${i}]`,
    };
  });
}

/** `one` or a list of them. */
function oneOrMany(entry: Entry, src: ConfigSource): Entry[] {
  return isSeq(entry.value) ? (listItems(entry, src, 'a list') ?? []) : [entry];
}

/** A byte count: an integer, or nginx's `512k` / `10m` / `1g`. */
function size(entry: Entry, src: ConfigSource): number | undefined {
  const node = entry.value;
  const t = isScalar(node) ? scalarText(node) : null;
  const n = t === null ? null : parseSize(t);
  if (n === null) {
    src.report(
      entry.place,
      entry.path,
      `expected a size in bytes (or like 512k, 10m, 1g), got ${describe(node)}`,
    );
    return undefined;
  }
  return n;
}

function readServerSpec(entry: Entry, src: ConfigSource): HttpServerSpec | undefined {
  let addressEntry: Entry = entry;
  let given: Map<string, Entry> | undefined;
  if (isMap(entry.value)) {
    given = section(
      entry,
      ['address', 'weight', 'max_fails', 'fail_timeout', 'max_conns', 'down', 'backup'],
      src,
      'an upstream server',
    );
    if (given === undefined) return undefined;
    const a = given.get('address');
    if (a === undefined) {
      src.report(entry.place, entry.path, "an upstream server needs 'address' (host:port)");
      return undefined;
    }
    addressEntry = a;
  }
  const name = text(slotOf(addressEntry), src);
  if (name === undefined) return undefined;
  const addr = parseServerAddress(name);
  if (typeof addr === 'string' || 'unix' in addr) {
    src.report(
      addressEntry.place,
      addressEntry.path,
      typeof addr === 'string'
        ? `${addr}; expected host:port`
        : 'unix-socket upstream servers are not supported yet; use host:port',
    );
    return undefined;
  }
  const get = <T>(key: string, read: (e: Entry) => T | undefined, fallback: T): T => {
    const e = given?.get(key);
    return e === undefined ? fallback : (read(e) ?? fallback);
  };
  return {
    name,
    host: addr.host,
    port: addr.port,
    weight: get('weight', (e) => integer({ min: 1 })(slotOf(e), src), 1),
    maxFails: get('max_fails', (e) => integer({ min: 0 })(slotOf(e), src), 1),
    failTimeoutMs: get('fail_timeout', (e) => ms(slotOf(e), src), 10000),
    maxConns: get('max_conns', (e) => integer({ min: 0 })(slotOf(e), src), 0),
    down: get('down', (e) => boolean(slotOf(e), src), false),
    backup: get('backup', (e) => boolean(slotOf(e), src), false),
    source: `${src.file}:${src.lineOf(addressEntry.place)}`,
  };
}

function readSticky(entry: Entry, src: ConfigSource): StickyCookie | undefined {
  const given = section(
    entry,
    ['cookie', 'expires', 'domain', 'path', 'secure', 'httponly', 'samesite'],
    src,
    "'sticky'",
  );
  if (given === undefined) return undefined;
  const cookie = given.get('cookie');
  if (cookie === undefined) {
    src.report(entry.place, entry.path, "'sticky' needs 'cookie' (the cookie's name)");
    return undefined;
  }
  const name = text(slotOf(cookie), src);
  if (name === undefined) return undefined;
  const opt = (key: string) => {
    const e = given.get(key);
    return e === undefined || isNull(e.value) ? null : (text(slotOf(e), src) ?? null);
  };
  let expires: StickyCookie['expires'] = null;
  const exp = given.get('expires');
  if (exp !== undefined && !isNull(exp.value)) {
    expires =
      isScalar(exp.value) && exp.value.value === 'max'
        ? 'max'
        : (integer({ min: 0 })(slotOf(exp), src) ?? null);
  }
  const flag = (key: string) => {
    const e = given.get(key);
    return e === undefined ? false : (boolean(slotOf(e), src) ?? false);
  };
  const sameSiteEntry = given.get('samesite');
  return {
    name,
    expires,
    domain: opt('domain'),
    path: opt('path'),
    secure: flag('secure'),
    httpOnly: flag('httponly'),
    sameSite:
      sameSiteEntry === undefined
        ? null
        : (oneOf(['strict', 'lax', 'none'] as const)(slotOf(sameSiteEntry), src) ?? null),
  };
}

function readUpstream(entry: Entry, src: ConfigSource): UpstreamConfig | undefined {
  const given = section(
    entry,
    [
      'balancer',
      'hash_key',
      'random_two',
      'sticky',
      'keepalive',
      'servers',
      ...UPSTREAM_GUARD_KEYS,
    ],
    src,
    `upstream '${entry.key}'`,
  );
  if (given === undefined) return undefined;
  const b = given.get('balancer');
  const balancer = b === undefined ? 'round_robin' : oneOf(HTTP_BALANCERS)(slotOf(b), src);
  if (balancer === undefined) return undefined;
  const keyEntry = given.get('hash_key');
  const hashKey = keyEntry === undefined ? null : (text(slotOf(keyEntry), src) ?? null);
  if (
    (balancer === 'hash' || balancer === 'hash_consistent') &&
    hashKey === null &&
    keyEntry === undefined
  ) {
    src.report(
      entry.keyNode,
      entry.path,
      `balancer ${balancer} needs 'hash_key' (like $request_uri)`,
    );
  }
  const serversEntry = given.get('servers');
  if (serversEntry === undefined) {
    src.report(entry.keyNode, entry.path, `upstream '${entry.key}' has no 'servers'`);
    return undefined;
  }
  const items = listItems(
    serversEntry,
    src,
    'a list of servers (host:port, or mappings with address)',
  );
  if (items === undefined) return undefined;
  const servers = items.map((item) => readServerSpec(item, src)).filter((s) => s !== undefined);
  if (items.length === 0 || (servers.length === items.length && servers.every((s) => s.backup))) {
    src.report(
      serversEntry.place,
      serversEntry.path,
      'needs at least one server that is not a backup',
    );
  }
  const allowed = ALLOWED_SERVER_PARAMETERS[balancer];
  servers.forEach((s, i) => {
    if (s.backup && !allowed.has('backup')) {
      src.report(
        items[i].place,
        items[i].path,
        `balancer ${balancer} does not support backup servers (nginx refuses them too)`,
      );
    }
  });
  const keepaliveEntry = given.get('keepalive');
  const sticky = given.get('sticky');
  const two = given.get('random_two');
  // The breaker's keys (guard-keys.ts): limits, outlier_detection, panic_threshold, breaker.
  const guard = readUpstreamGuard(given, src);
  return {
    ...(guard === undefined ? {} : { guard }),
    name: entry.key,
    balancer,
    hashKey,
    randomTwo: two === undefined ? false : (boolean(slotOf(two), src) ?? false),
    sticky: sticky === undefined ? null : (readSticky(sticky, src) ?? null),
    servers,
    keepalive:
      keepaliveEntry === undefined || isNull(keepaliveEntry.value)
        ? null
        : (integer({ min: 1 })(slotOf(keepaliveEntry), src) ?? null),
  };
}

type ProxyDefaults = Omit<ProxySettings, 'upstream' | 'uri'>;

function routerOf(given: ReadonlyMap<string, Entry>, src: ConfigSource): { router?: EnvoyRouter } {
  const router = readRouteRouter(given, src);
  return router === undefined ? {} : { router };
}

const PROXY_DEFAULTS: ProxyDefaults = {
  setHeaders: DEFAULTS.setHeaders,
  httpVersion: DEFAULTS.httpVersion,
  connectTimeoutMs: DEFAULTS.connectTimeoutMs,
  sendTimeoutMs: DEFAULTS.sendTimeoutMs,
  readTimeoutMs: DEFAULTS.readTimeoutMs,
  nextUpstream: DEFAULTS.nextUpstream,
  nextUpstreamTries: DEFAULTS.nextUpstreamTries,
};

/** The proxy keys of a server or location over `parent`'s values. */
function readProxy(
  given: Map<string, Entry>,
  parent: ProxyDefaults,
  src: ConfigSource,
): ProxyDefaults {
  const out = { ...parent };
  const h = given.get('set_headers');
  if (h !== undefined) {
    const entries = readMap(h.value, h.place, h.path, src, 'a mapping of header names to values');
    if (entries !== undefined) {
      out.setHeaders = entries.map(
        (e): HeaderSetting => ({
          name: e.key,
          value: isNull(e.value) ? '' : isScalar(e.value) ? (scalarText(e.value) ?? '') : '',
        }),
      );
    }
  }
  const v = given.get('http_version');
  if (v !== undefined)
    out.httpVersion = oneOf(['1.0', '1.1'] as const)(slotOf(v), src) ?? out.httpVersion;
  const time = (key: string, set: (n: number) => void) => {
    const e = given.get(key);
    if (e === undefined) return;
    const n = ms(slotOf(e), src);
    if (n !== undefined) set(n);
  };
  time('connect_timeout', (n) => {
    out.connectTimeoutMs = n;
  });
  time('send_timeout', (n) => {
    out.sendTimeoutMs = n;
  });
  time('read_timeout', (n) => {
    out.readTimeoutMs = n;
  });
  const next = given.get('next_upstream');
  if (next !== undefined) {
    const values = oneOrMany(next, src)
      .map((e) => oneOf(NEXT_UPSTREAM)(slotOf(e), src))
      .filter((x) => x !== undefined);
    out.nextUpstream = values;
  }
  const tries = given.get('next_upstream_tries');
  if (tries !== undefined)
    out.nextUpstreamTries = integer({ min: 0 })(slotOf(tries), src) ?? out.nextUpstreamTries;
  return out;
}

function readLocation(
  entry: Entry,
  parent: ProxyDefaults,
  server: { clientMaxBodySize: number; clientBodyTimeoutMs: number },
  upstreams: ReadonlyMap<string, UpstreamConfig>,
  src: ConfigSource,
): LocationConfig | undefined {
  const given = section(
    entry,
    [
      'path',
      'exact',
      'upstream',
      'uri',
      'client_max_body_size',
      'client_body_timeout',
      ...PROXY_KEYS,
      ...ROUTE_GUARD_KEYS,
    ],
    src,
    'a location',
  );
  if (given === undefined) return undefined;
  const pathEntry = given.get('path');
  const upstreamEntry = given.get('upstream');
  if (pathEntry === undefined || upstreamEntry === undefined) {
    src.report(
      entry.place,
      entry.path,
      "a location needs 'path' (like /) and 'upstream' (an upstream's name)",
    );
    return undefined;
  }
  const prefix = text(slotOf(pathEntry), src);
  const upstream = text(slotOf(upstreamEntry), src);
  if (prefix === undefined || upstream === undefined) return undefined;
  if (!upstreams.has(upstream)) {
    src.report(
      upstreamEntry.place,
      upstreamEntry.path,
      `no upstream named '${upstream}'${upstreams.size > 0 ? ` (upstreams: ${[...upstreams.keys()].join(', ')})` : ''}`,
    );
  }
  const exact = given.get('exact');
  const uri = given.get('uri');
  // nginx's proxy_pass URI part replaces the location's part of the normalised URI; legate passes
  // the client's URI as it came, so it refuses the key rather than ignore it.
  if (uri !== undefined)
    src.report(
      uri.keyNode,
      uri.path,
      "'uri' is not supported: legate passes the client's URI unchanged; remove it and have the backend serve that path",
    );
  const body = given.get('client_max_body_size');
  const bodyTimeout = given.get('client_body_timeout');
  return {
    prefix,
    exact: exact === undefined ? false : (boolean(slotOf(exact), src) ?? false),
    proxy: {
      upstream,
      uri: null,
      ...readProxy(given, parent, src),
      // Envoy's router (timeout, retry) when the location says so (guard-keys.ts).
      ...routerOf(given, src),
    },
    clientMaxBodySize:
      body === undefined ? server.clientMaxBodySize : (size(body, src) ?? server.clientMaxBodySize),
    clientBodyTimeoutMs:
      bodyTimeout === undefined
        ? server.clientBodyTimeoutMs
        : (ms(slotOf(bodyTimeout), src) ?? server.clientBodyTimeoutMs),
  };
}

function readRealIp(entry: Entry, src: ConfigSource): HttpServerBlockConfig['realIp'] {
  const given = section(entry, ['trusted', 'header', 'recursive'], src, "'real_ip'");
  if (given === undefined) return null;
  const trusted = given.get('trusted');
  if (trusted === undefined) {
    src.report(
      entry.place,
      entry.path,
      "'real_ip' needs 'trusted' (the proxies' addresses or CIDRs)",
    );
    return null;
  }
  const header = given.get('header');
  const recursive = given.get('recursive');
  return {
    trusted: oneOrMany(trusted, src)
      .map((e) => text(slotOf(e), src))
      .filter((x) => x !== undefined),
    header:
      header === undefined
        ? DEFAULTS.realIpHeader
        : (text(slotOf(header), src) ?? '').toLowerCase(),
    recursive: recursive === undefined ? false : (boolean(slotOf(recursive), src) ?? false),
  };
}

function readServerBlock(
  entry: Entry,
  upstreams: ReadonlyMap<string, UpstreamConfig>,
  src: ConfigSource,
  claims: ListenClaim[],
): HttpServerBlockConfig | undefined {
  const given = section(
    entry,
    [
      'listen',
      'server_names',
      'default',
      'client_max_body_size',
      'client_header_timeout',
      'client_body_timeout',
      'keepalive_timeout',
      'real_ip',
      'locations',
      ...PROXY_KEYS,
    ],
    src,
    'an http server',
  );
  if (given === undefined) return undefined;
  const listenEntry = given.get('listen');
  const locationsEntry = given.get('locations');
  if (listenEntry === undefined || locationsEntry === undefined) {
    src.report(entry.place, entry.path, "an http server needs 'listen' and 'locations'");
    return undefined;
  }
  const listen = oneOrMany(listenEntry, src)
    .map((e) => {
      const address = parsed(parseListen)(slotOf(e), src);
      if (address !== undefined)
        claims.push({ address, owner: `http server ${entry.path}`, place: e.place, path: e.path });
      return address;
    })
    .filter((a) => a !== undefined);
  const names = given.get('server_names');
  const get = <T>(key: string, read: (e: Entry) => T | undefined, fallback: T): T => {
    const e = given.get(key);
    return e === undefined ? fallback : (read(e) ?? fallback);
  };
  const clientMaxBodySize = get(
    'client_max_body_size',
    (e) => size(e, src),
    DEFAULTS.clientMaxBodySize,
  );
  const clientBodyTimeoutMs = get(
    'client_body_timeout',
    (e) => ms(slotOf(e), src),
    DEFAULTS.clientBodyTimeoutMs,
  );
  const proxy = readProxy(given, PROXY_DEFAULTS, src);
  const locations = (listItems(locationsEntry, src, 'a list of locations') ?? [])
    .map((e) => readLocation(e, proxy, { clientMaxBodySize, clientBodyTimeoutMs }, upstreams, src))
    .filter((l) => l !== undefined);
  const serverNames =
    names === undefined
      ? []
      : oneOrMany(names, src)
          .map((e) => text(slotOf(e), src))
          .filter((x) => x !== undefined);
  const realIp = given.get('real_ip');
  return {
    name: serverNames[0] ?? '',
    serverNames,
    defaultServer: get('default', (e) => boolean(slotOf(e), src), false),
    listen,
    locations,
    clientMaxBodySize,
    clientHeaderTimeoutMs: get(
      'client_header_timeout',
      (e) => ms(slotOf(e), src),
      DEFAULTS.clientHeaderTimeoutMs,
    ),
    clientBodyTimeoutMs,
    realIp: realIp === undefined ? null : readRealIp(realIp, src),
    keepaliveTimeoutMs: get(
      'keepalive_timeout',
      (e) => ms(slotOf(e), src),
      DEFAULTS.keepaliveTimeoutMs,
    ),
  };
}

function readSplitClients(entry: Entry, src: ConfigSource): SplitClientsConfig | undefined {
  const given = section(entry, ['source', 'parts'], src, `split_clients '${entry.key}'`);
  if (given === undefined) return undefined;
  const source = given.get('source');
  const parts = given.get('parts');
  if (source === undefined || parts === undefined) {
    src.report(
      entry.place,
      entry.path,
      "split_clients needs 'source' (like $remote_addr) and 'parts'",
    );
    return undefined;
  }
  const sourceText = text(slotOf(source), src);
  const items =
    listItems(parts, src, "a list of { percent, value } (percent '*' for the rest)") ?? [];
  let sum = 0;
  const out: SplitClientsConfig['parts'][number][] = [];
  for (const item of items) {
    const p = section(item, ['percent', 'value'], src, 'a split_clients part');
    const percent = p?.get('percent');
    const value = p?.get('value');
    if (p === undefined || percent === undefined || value === undefined) {
      if (p !== undefined) src.report(item.place, item.path, "a part needs 'percent' and 'value'");
      continue;
    }
    const v = isNull(value.value)
      ? ''
      : isScalar(value.value)
        ? (scalarText(value.value) ?? '')
        : '';
    if (isScalar(percent.value) && percent.value.value === '*') {
      out.push({ percent: '*', value: v });
      continue;
    }
    const n = isScalar(percent.value) ? percent.value.value : undefined;
    if (typeof n !== 'number' || n <= 0 || Math.round(n * 100) !== n * 100) {
      src.report(
        percent.place,
        percent.path,
        `expected a percentage above 0 with at most two decimals, or '*'; got ${describe(percent.value)}`,
      );
      continue;
    }
    sum += Math.round(n * 100);
    if (sum > 10000)
      src.report(percent.place, percent.path, 'the percentages add up to more than 100');
    out.push({ percent: n, value: v });
  }
  return sourceText === undefined
    ? undefined
    : { source: sourceText, variable: entry.key, parts: out };
}

/** The `http:` section; `claims` receives the listen addresses, to catch clashes with other roles. */
export function readHttpSection(
  entry: Entry,
  src: ConfigSource,
  claims: ListenClaim[],
): HttpConfig {
  const given = section(entry, ['engine', 'upstreams', 'servers', 'split_clients'], src, "'http'");
  if (given === undefined) return { engine: 'auto', upstreams: [], servers: [], splitClients: [] };
  const engineEntry = given.get('engine');
  const engine =
    engineEntry === undefined ? 'auto' : (oneOf(HTTP_ENGINES)(slotOf(engineEntry), src) ?? 'auto');
  const upstreams = new Map<string, UpstreamConfig>();
  const upstreamsEntry = given.get('upstreams');
  if (upstreamsEntry !== undefined) {
    const entries = readMap(
      upstreamsEntry.value,
      upstreamsEntry.place,
      upstreamsEntry.path,
      src,
      'a mapping of upstream names to upstreams',
    );
    for (const e of entries ?? []) {
      const u = readUpstream(e, src);
      if (u !== undefined) upstreams.set(u.name, u);
    }
  }
  const serversEntry = given.get('servers');
  const servers =
    serversEntry === undefined
      ? []
      : (listItems(serversEntry, src, 'a list of http servers') ?? [])
          .map((e) => readServerBlock(e, upstreams, src, claims))
          .filter((s) => s !== undefined);
  if (serversEntry === undefined) {
    src.report(
      entry.keyNode,
      joinPath(entry.path, 'servers'),
      "'http' has no 'servers': add one with listen and locations",
    );
  }
  const splitEntry = given.get('split_clients');
  const splits =
    splitEntry === undefined
      ? []
      : (
          readMap(
            splitEntry.value,
            splitEntry.place,
            splitEntry.path,
            src,
            'a mapping of variable names to splits',
          ) ?? []
        )
          .map((e) => readSplitClients(e, src))
          .filter((s) => s !== undefined);
  return { engine, upstreams: [...upstreams.values()], servers, splitClients: splits };
}
