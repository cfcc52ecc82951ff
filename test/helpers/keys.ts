// Where keys live, as `legate locate` says: for picking keys that land on chosen shards.
import assert from 'node:assert/strict';
import { runLegate } from './processes.ts';

/** key -> server name (`127.0.0.1:PORT`) for each key, from `legate locate -c FILE`. */
export async function locate(
  configFile: string,
  keys: readonly string[],
  pool?: string,
): Promise<Map<string, string>> {
  const args = ['locate', '-c', configFile, ...(pool === undefined ? [] : ['--pool', pool])];
  const r = await runLegate(args, { input: `${keys.join('\n')}\n` });
  assert.equal(r.code, 0, r.stderr);
  const out = new Map<string, string>();
  for (const line of r.stdout.toString().split('\n')) {
    if (line === '') continue;
    const [key, , server] = line.split('\t');
    out.set(key, server);
  }
  assert.equal(out.size, new Set(keys).size, 'locate answered every key');
  return out;
}

/** The port of a `host:port` server name. */
export function portOf(server: string): number {
  return Number(server.slice(server.lastIndexOf(':') + 1));
}

/**
 * `count` keys starting with `prefix`, each on a different shard (so count <= the number of shards),
 * with the port of the shard each is on.
 */
export async function keysOnDistinctShards(
  configFile: string,
  prefix: string,
  count: number,
  pool?: string,
): Promise<{ key: string; port: number }[]> {
  // twemproxy's fnv1a_64 barely moves keys that differ only in their last byte or two, so the
  // candidates differ in a longer tail.
  const candidates = Array.from(
    { length: 200 },
    (_, i) => `${prefix}${i}.${Math.imul(i + 1, 2654435761) >>> 0}`,
  );
  const where = await locate(configFile, candidates, pool);
  const picked = new Map<string, string>();
  for (const [key, server] of where) {
    if (!picked.has(server)) picked.set(server, key);
    if (picked.size === count) break;
  }
  assert.equal(picked.size, count, `found keys on ${count} distinct shards`);
  return [...picked].map(([server, key]) => ({ key, port: portOf(server) }));
}
