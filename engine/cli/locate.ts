import type { RedisPoolConfig } from '../config/types.ts';
import { UsageError } from '../errors.ts';
import { KeyLocator } from '../ring/key-locator.ts';
import { PoolRing } from '../ring/pool-ring.ts';
import { NO_SERVER, RingReader } from '../shared/ring-memory.ts';

const TAB = Buffer.from('\t');
const NEWLINE = Buffer.from('\n');

/** Picks the pool `legate locate` answers for: the named one, or the only one. */
export function choosePool(
  pools: readonly RedisPoolConfig[],
  name: string | undefined,
): RedisPoolConfig {
  if (name !== undefined) {
    const pool = pools.find((p) => p.name === name);
    if (!pool) {
      throw new UsageError(
        `no pool '${name}' (pools: ${pools.map((p) => p.name).join(', ') || 'none'})`,
      );
    }
    return pool;
  }
  if (pools.length === 1) return pools[0];
  if (pools.length === 0) throw new UsageError('the configuration has no Redis pool');
  throw new UsageError(
    `the configuration has ${pools.length} pools; choose one with --pool (${pools.map((p) => p.name).join(', ')})`,
  );
}

/** Splits standard input into keys, one a line, as raw bytes (a trailing newline ends the last key). */
export function splitKeys(input: Buffer): Buffer[] {
  const keys: Buffer[] = [];
  let start = 0;
  for (let i = input.indexOf(10); i !== -1; i = input.indexOf(10, start)) {
    keys.push(input.subarray(start, i));
    start = i + 1;
  }
  if (start < input.length) keys.push(input.subarray(start));
  return keys;
}

/** Writes `KEY<TAB>POOL<TAB>SERVER` for each key, with every server live (no ejection applies here). */
export function locateKeys(
  pool: RedisPoolConfig,
  keys: readonly Buffer[],
  out: (chunk: Buffer) => void,
): void {
  const ring = new PoolRing(pool);
  const locator = new KeyLocator(pool, new RingReader(ring.sab));
  const poolName = Buffer.from(pool.name);
  const serverNames = pool.servers.map((s) => Buffer.from(s.name));
  for (const key of keys) {
    const server = locator.locate(key, 0, key.length);
    out(
      Buffer.concat([
        key,
        TAB,
        poolName,
        TAB,
        server === NO_SERVER ? Buffer.from('-') : serverNames[server],
        NEWLINE,
      ]),
    );
  }
}
