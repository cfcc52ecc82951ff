import { formatAddress } from './address.ts';
import { POOL_KEY_NAMES, POOL_KEYS, REQUIRED } from './pool-schema.ts';
import { type Entry, isNull, readMap, rejectUnknown, slotOf } from './read.ts';
import type { ConfigSource, Placed } from './source.ts';
import type { Address, RedisPoolConfig } from './types.ts';

/** Something bound to an address, to find two things that would fight over one port or socket. */
export interface ListenClaim {
  readonly address: Address;
  /** Who holds it, as a message names it: `pool 'cache'`, `the admin endpoint`. */
  readonly owner: string;
  readonly place: Placed | null;
  readonly path: string;
}

interface ReadPool {
  /** Undefined when anything in the pool is wrong (all reported). */
  readonly pool?: RedisPoolConfig;
  /** Set whenever `listen` itself is good, so a clash is reported even beside other mistakes. */
  readonly claim?: ListenClaim;
}

/** One pool from its mapping, defaults applied. */
function readPool(entry: Entry, src: ConfigSource): ReadPool {
  const name = entry.key;
  const entries = readMap(
    entry.value,
    entry.place,
    entry.path,
    src,
    "a pool (a mapping with 'listen' and 'servers')",
  );
  if (entries === undefined) return {};
  const given = new Map(
    rejectUnknown(entries, POOL_KEY_NAMES, src, `pool '${name}'`).map((e) => [e.key, e]),
  );
  const fields: Record<string, unknown> = { name };
  let ok = true;
  for (const spec of POOL_KEYS) {
    const found = given.get(spec.key);
    if (found === undefined) {
      if (spec.default === REQUIRED) {
        ok = false;
        src.report(
          entry.keyNode,
          entry.path,
          `pool '${name}' has no '${spec.key}', which is required`,
        );
      } else {
        fields[spec.field] = spec.default;
      }
    } else if (spec.default === null && isNull(found.value)) {
      fields[spec.field] = null;
    } else {
      const value = spec.read(slotOf(found), src);
      if (value === undefined) ok = false;
      else fields[spec.field] = value;
    }
  }
  if (fields.redis === false) {
    // twemproxy's default is memcached; legate proxies Redis only, and says so rather than guess.
    const redisKey = given.get('redis');
    ok = false;
    src.report(
      redisKey?.place ?? entry.keyNode,
      `${entry.path}.redis`,
      `pool '${name}' speaks memcached (redis: false${redisKey ? '' : ', the default'}); legate proxies Redis only: set 'redis: true'`,
    );
  }
  const listen = given.get('listen');
  const claim: ListenClaim | undefined =
    listen === undefined || fields.listen === undefined
      ? undefined
      : {
          address: fields.listen as Address,
          owner: `pool '${name}'`,
          place: listen.place,
          path: listen.path,
        };
  // Every field was set from POOL_KEYS above, each by a reader typed for that field.
  return ok ? { pool: fields as unknown as RedisPoolConfig, claim } : { claim };
}

/** Reports every claim on an address already claimed earlier in the list. */
export function checkListenClashes(claims: readonly ListenClaim[], src: ConfigSource): void {
  const owners = new Map<string, ListenClaim>();
  for (const claim of claims) {
    const address = formatAddress(claim.address);
    const first = owners.get(address);
    if (first === undefined) {
      owners.set(address, claim);
      continue;
    }
    const where = first.place === null ? 'by default' : `on line ${src.lineOf(first.place)}`;
    const message =
      `${claim.owner} listens on ${address}, which ${first.owner} already uses (${where}); ` +
      'give each its own address';
    if (claim.place === null) src.reportElsewhere(claim.path, message);
    else src.report(claim.place, claim.path, message);
  }
}

/** The pools of a mapping whose keys are pool names; `claims` receives where each one listens. */
export function readPools(
  entries: readonly Entry[],
  src: ConfigSource,
  claims: ListenClaim[],
): RedisPoolConfig[] {
  const pools: RedisPoolConfig[] = [];
  for (const entry of entries) {
    const { pool, claim } = readPool(entry, src);
    if (pool !== undefined) pools.push(pool);
    if (claim !== undefined) claims.push(claim);
  }
  return pools;
}
