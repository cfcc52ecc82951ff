import { isScalar } from 'yaml';
import { parseListen } from './address.ts';
import { looksLikePool } from './dialect.ts';
import { duration } from './duration.ts';
import { readHttpSection } from './http.ts';
import { EMPTY_HTTP, type HttpConfig } from './http-types.ts';
import { checkListenClashes, type ListenClaim, readPools } from './pool.ts';
import {
  checkInteger,
  describe,
  type Entry,
  oneOf,
  parsed,
  readMap,
  rejectUnknown,
  slotOf,
} from './read.ts';
import type { ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';
import { readTcp } from './tcp.ts';
import { EMPTY_TCP, type TcpConfig } from './tcp-types.ts';
import {
  type Address,
  HTTP_ENGINES,
  type LegateConfig,
  LOG_LEVELS,
  type LogLevel,
} from './types.ts';

/** What both dialects produce before the file name, dialect and environment are added. */
export type Settings = Omit<LegateConfig, 'file' | 'dialect' | 'warnings'>;

export const DEFAULT_ADMIN_LISTEN: Address = { kind: 'tcp', host: '127.0.0.1', port: 9909 };
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const DEFAULT_DRAIN_TIMEOUT_MS = 10000;

const SECTIONS = ['workers', 'admin', 'log', 'drain_timeout', 'redis', 'tcp', 'http'] as const;
const SECTIONS_SET: ReadonlySet<string> = new Set(SECTIONS);

/** `workers`, from the file or LEGATE_WORKERS: a count, or `auto` (null) for one per core. */
export function checkWorkers(value: unknown, text: string): { workers: number | null } | string {
  if (value === 'auto') return { workers: null };
  const problem = checkInteger(value, text, { min: 1 });
  if (problem === null) return { workers: value as number };
  return typeof value === 'number' && Number.isInteger(value)
    ? `${problem} (or 'auto' for one per core)`
    : `expected an integer of at least 1 or 'auto', got ${text}`;
}

function readWorkers(entry: Entry, src: ConfigSource): number | null | undefined {
  const node = entry.value;
  const result = checkWorkers(isScalar(node) ? node.value : node, describe(node));
  if (typeof result === 'string') {
    src.report(entry.place, entry.path, result);
    return undefined;
  }
  return result.workers;
}

export function readSection(
  entry: Entry,
  src: ConfigSource,
  keys: readonly string[],
): Map<string, Entry> | undefined {
  const entries = readMap(
    entry.value,
    entry.place,
    entry.path,
    src,
    `a mapping with ${keys.map((k) => `'${k}'`).join(', ')}`,
  );
  if (entries === undefined) return undefined;
  return new Map(rejectUnknown(entries, keys, src, `'${entry.key}'`).map((e) => [e.key, e]));
}

/**
 * A legate.yml: `workers`, `admin`, `log`, the pools under `redis`, the broker's services under
 * `tcp` (profiles chosen by LEGATE_ENV in `env`) and the HTTP role under `http`.
 */
export function readNative(
  root: readonly Entry[],
  src: ConfigSource,
  env: NodeJS.ProcessEnv = process.env,
): Settings {
  let workers: number | null = null;
  let adminListen = DEFAULT_ADMIN_LISTEN;
  let adminEngine: LegateConfig['admin']['engine'] = 'auto';
  let adminClaim: ListenClaim = {
    address: DEFAULT_ADMIN_LISTEN,
    owner: 'the admin endpoint',
    place: null,
    path: 'admin.listen',
  };
  let level = DEFAULT_LOG_LEVEL;
  let drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_MS;
  const claims: ListenClaim[] = [];
  let redis: LegateConfig['redis'] = [];
  let redisEntry: Entry | undefined;
  let tcp: TcpConfig = EMPTY_TCP;
  let tcpEntry: Entry | undefined;
  let http: HttpConfig = EMPTY_HTTP;
  let httpEntry: Entry | undefined;

  for (const entry of root) {
    switch (entry.key) {
      case 'workers':
        workers = readWorkers(entry, src) ?? workers;
        break;
      case 'admin': {
        const admin = readSection(entry, src, ['listen', 'engine']);
        const engine = admin?.get('engine');
        if (engine !== undefined)
          adminEngine = oneOf(HTTP_ENGINES)(slotOf(engine), src) ?? adminEngine;
        const listen = admin?.get('listen');
        if (listen === undefined) break;
        const address = parsed(parseListen)(slotOf(listen), src);
        if (address === undefined) break;
        adminListen = address;
        adminClaim = { ...adminClaim, address, place: listen.place };
        break;
      }
      case 'drain_timeout':
        drainTimeoutMs = duration({ min: 0 })(slotOf(entry), src) ?? drainTimeoutMs;
        break;
      case 'log': {
        const given = readSection(entry, src, ['level'])?.get('level');
        if (given !== undefined) level = oneOf(LOG_LEVELS)(slotOf(given), src) ?? level;
        break;
      }
      case 'redis': {
        redisEntry = entry;
        const pools = readMap(
          entry.value,
          entry.place,
          entry.path,
          src,
          'a mapping of pool names to pools',
        );
        if (pools?.length === 0) {
          src.report(
            entry.place,
            entry.path,
            'has no pools; add one as a name with listen and servers',
          );
        }
        if (pools !== undefined) redis = readPools(pools, src, claims);
        break;
      }
      case 'tcp':
        tcpEntry = entry;
        tcp = readTcp(entry, src, env, claims);
        break;
      case 'http':
        httpEntry = entry;
        http = readHttpSection(entry, src, claims);
        break;
      default:
        if (looksLikePool(entry.value, src)) {
          src.report(
            entry.keyNode,
            entry.path,
            `'${entry.key}' looks like a Redis pool; in a legate.yml pools go under 'redis:' ` +
              `(move it there, indented), or make every top-level key a pool to use the nutcracker format`,
          );
        } else {
          src.report(
            entry.keyNode,
            entry.path,
            `unknown top-level key '${entry.key}'${didYouMean(entry.key, SECTIONS)}; ` +
              `expected ${SECTIONS.join(', ')}`,
          );
        }
    }
  }
  const misplaced = root.some((e) => !SECTIONS_SET.has(e.key) && looksLikePool(e.value, src));
  if (redisEntry === undefined && tcpEntry === undefined && httpEntry === undefined && !misplaced) {
    src.report(
      root[0]?.keyNode ?? null,
      '',
      "nothing to serve: add a Redis pool under 'redis:', services under 'tcp:' or upstreams " +
        "and servers under 'http:' (see config/legate.yml, config/broker.yml and config/splitter.yml)",
    );
  }
  checkListenClashes([adminClaim, ...claims], src);
  return {
    workers,
    admin: { listen: adminListen, engine: adminEngine },
    log: { level },
    drainTimeoutMs,
    redis,
    tcp,
    http,
  };
}
