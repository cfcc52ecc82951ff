import { HASH_NAMES } from '../hash/types.ts';
import { parseListen } from './address.ts';
import { boolean, integer, map, oneOf, parsed, type Reader, text } from './read.ts';
import { readServers } from './servers.ts';
import { DISTRIBUTIONS, type RedisPoolConfig } from './types.ts';

/** Marks a key that has no default: a pool without it is refused. */
export const REQUIRED: unique symbol = Symbol('required');

type PoolField = Exclude<keyof RedisPoolConfig, 'name'>;

/** One key a pool may have. A new key is one `key(...)` line in POOL_KEYS plus its field in types.ts. */
export interface PoolKey {
  /** As written in YAML, twemproxy's spelling. */
  readonly key: string;
  readonly field: PoolField;
  readonly read: Reader<unknown>;
  /** Used when the key is absent, or given empty when the default is null. */
  readonly default: unknown;
}

function key<F extends PoolField>(
  yamlKey: string,
  field: F,
  read: Reader<RedisPoolConfig[F]>,
  fallback: RedisPoolConfig[F] | typeof REQUIRED,
): PoolKey {
  return { key: yamlKey, field, read, default: fallback };
}

/** twemproxy takes 0 for timeout and client_connections as "none", so legate does too. */
const zeroIsNone = (read: Reader<number>): Reader<number | null> =>
  map(read, (n) => (n === 0 ? null : n));

const hashTag: Reader<string> = (slot, src) => {
  const value = text(slot, src);
  if (value === undefined) return undefined;
  // twemproxy compares bytes, so '«»' (4 bytes) is as wrong there as '{' is.
  if (Buffer.byteLength(value, 'utf8') !== 2) {
    src.report(
      slot.place,
      slot.path,
      `must be exactly 2 characters, an opening and a closing one like '{}', got '${value}'`,
    );
    return undefined;
  }
  return value;
};

const count = integer({ min: 0 });

export const POOL_KEYS: readonly PoolKey[] = [
  key('listen', 'listen', parsed(parseListen), REQUIRED),
  key('hash', 'hash', oneOf(HASH_NAMES), 'fnv1a_64'),
  key('hash_tag', 'hashTag', hashTag, null),
  key('distribution', 'distribution', oneOf(DISTRIBUTIONS), 'ketama'),
  key('timeout', 'timeoutMs', zeroIsNone(count), null),
  key('backlog', 'backlog', count, 512),
  key('preconnect', 'preconnect', boolean, false),
  key('redis', 'redis', boolean, false),
  key('redis_auth', 'redisAuth', text, null),
  key('redis_db', 'redisDb', count, 0),
  key('server_connections', 'serverConnections', integer({ min: 1 }), 1),
  key('auto_eject_hosts', 'autoEjectHosts', boolean, false),
  key('server_retry_timeout', 'serverRetryTimeoutMs', count, 30000),
  key('server_failure_limit', 'serverFailureLimit', count, 2),
  key('client_connections', 'clientConnections', zeroIsNone(count), null),
  key('tcpkeepalive', 'tcpKeepalive', boolean, false),
  key('reuseport', 'reuseport', boolean, false),
  key('servers', 'servers', readServers, REQUIRED),
  // legate's own keys (nutcracker has none of these; legate bounds memory and queues with them).
  key('max_request_bytes', 'maxRequestBytes', integer({ min: 1024 }), 64 * 1024 * 1024),
  key('client_max_pending', 'clientMaxPending', integer({ min: 1 }), 16384),
  key('client_max_output_bytes', 'clientMaxOutputBytes', integer({ min: 65536 }), 16 * 1024 * 1024),
  key('server_max_inflight', 'serverMaxInflight', integer({ min: 1 }), 65536),
];

export const POOL_KEY_NAMES: readonly string[] = POOL_KEYS.map((k) => k.key);
