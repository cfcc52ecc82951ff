// Hot reload: SIGHUP with a bad file keeps the running config; with a good one that adds a shard
// to one pool and removes another pool's listener, a steady pipelined load on the pool that stays
// sees no failed request, the removed listener stops accepting, and keys follow the new ring.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { getStats, httpGet } from '../helpers/admin.ts';
import { accepts, CheckedLoad, sleep, until, waitForLog, workerOf } from '../helpers/faults.ts';
import { locate, portOf } from '../helpers/keys.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { holders, RawClient } from '../helpers/resp.ts';

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let ports: { a: number; b: number; c: number };
let config: { file: string; cleanup(): void };
/** Pool a's shards before and after the reload; pool b's one shard. */
let before2: number[];
let after3: number[];
let bShard: number;

function poolA(shardPorts: readonly number[]): string {
  return poolYaml({ name: 'a', port: ports.a, shards: shardPorts, extra: { timeout: 2000 } });
}

before(async () => {
  shards = await startShards(4);
  ports = { a: await freePort(), b: await freePort(), c: await freePort() };
  before2 = shards.slice(0, 2).map((s) => s.port);
  after3 = shards.slice(0, 3).map((s) => s.port);
  bShard = shards[3].port;
  config = writeConfig(poolA(before2) + poolYaml({ name: 'b', port: ports.b, shards: [bShard] }));
  legate = await startLegate(['-c', config.file, '-w', '2']);
});

after(async () => {
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
});

it('a bad config on SIGHUP is refused with its errors, and the old config keeps serving', async () => {
  const original = poolA(before2) + poolYaml({ name: 'b', port: ports.b, shards: [bShard] });
  // A third pool with a hash that does not exist.
  writeFileSync(
    config.file,
    `${original}c:\n  listen: 127.0.0.1:1\n  hash: fnv2\n  redis: true\n  servers:\n    - 127.0.0.1:1:1\n`,
  );
  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  const line = await waitForLog(legate, /\{[^\n]*"msg":"reload refused[^\n]*/, 3000, from);
  assert.match(line, /fnv2/);
  assert.match(line, /"errors":\[/);
  assert.doesNotMatch(legate.output().slice(from), /config reloaded/);
  // Both pools still serve, the way they did.
  for (const port of [ports.a, ports.b]) {
    const c = await RawClient.connect(port);
    assert.equal(String(await c.call('SET', `still:${port}`, 'yes')), 'OK');
    c.close();
  }
  writeFileSync(config.file, original);
});

it('a reload one worker refuses is undone in the others, and /stats and /config keep the running config', async () => {
  const original = poolA(before2) + poolYaml({ name: 'b', port: ports.b, shards: [bShard] });
  const d = await freePort();
  // Only worker 0 listens on a unix socket, and it cannot in a directory that does not exist:
  // worker 1 applies the file (and would open pool d's port), worker 0 refuses it.
  const refusedFile = `${poolA(before2)}b:\n  listen: /nonexistent-legate-dir/b.sock\n  redis: true\n  servers:\n    - 127.0.0.1:${bShard}:1\n${poolYaml({ name: 'd', port: d, shards: [bShard] })}`;
  writeFileSync(config.file, refusedFile);
  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  const line = await waitForLog(legate, /\{[^\n]*"msg":"reload refused, keeping[^\n]*/, 5000, from);
  assert.match(line, /1 of 2 workers could not apply it/);
  assert.match(legate.output().slice(from), /"msg":"reload refused by worker 0, [^"]*b\.sock/);
  assert.doesNotMatch(legate.output().slice(from), /config reloaded|cannot go back/);
  // Worker 1 went back to the running config: nothing listens on pool d's port.
  assert.equal(await accepts(d), false, "pool d's port is not open");
  const stats = await getStats(legate.adminPort ?? 0);
  assert.deepEqual(
    stats.pools.map((p) => p.name),
    ['a', 'b'],
  );
  const running = JSON.parse((await httpGet(legate.adminPort ?? 0, '/config')).body) as {
    redis: { name: string; listen: { kind: string; port?: number } }[];
  };
  assert.deepEqual(
    running.redis.map((p) => [p.name, p.listen.kind, p.listen.port]),
    [
      ['a', 'tcp', ports.a],
      ['b', 'tcp', ports.b],
    ],
  );
  // Both workers accept on both pools' ports again (SO_REUSEPORT spreads new connections).
  for (const port of [ports.a, ports.b]) {
    const seen = new Set<number>();
    for (let i = 0; i < 50 && seen.size < 2; i++) {
      const c = await RawClient.connect(port);
      seen.add(await workerOf(c, 2));
      c.close();
    }
    assert.deepEqual([...seen].sort(), [0, 1], `both workers serve port ${port}`);
  }
  writeFileSync(config.file, original);
});

it('a reload that adds a shard, removes a listener and opens another fails no request on the pool that stays', async () => {
  const loadA = new CheckedLoad({
    port: ports.a,
    clients: 12,
    depth: 16,
    prefix: 'ra',
    op: 'incrby',
    workers: 2,
    pauseMs: 2,
  });
  const loadB = new CheckedLoad({
    port: ports.b,
    clients: 4,
    depth: 16,
    prefix: 'rb',
    op: 'incrby',
    workers: 2,
    pauseMs: 2,
  });
  await loadA.start();
  await loadB.start();
  await sleep(500);
  const beforeReload = loadA.ok;

  // Pool a gets a third shard; pool b goes; a new pool c takes b's shard on a port of its own.
  writeFileSync(
    config.file,
    poolA(after3) + poolYaml({ name: 'c', port: ports.c, shards: [bShard] }),
  );
  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  await waitForLog(legate, /"msg":"config reloaded from [^"]*"/, 3000, from);
  // Pool b's listener is gone: its port stops accepting. Pool c listens at once, not only
  // after b's clients have gone.
  await until(async () => !(await accepts(ports.b)), 3000, "pool b's listener closed");
  await until(() => accepts(ports.c), 3000, 'pool c listening while pool b drains');
  // Pool b's clients, still mid-load, are answered and closed by legate.
  await until(
    () => loadB.results.every((r) => r.errors.length > 0),
    3000,
    "pool b's clients closed by the drain",
  );
  const atReload = loadA.ok;
  await sleep(1000);
  const a = await loadA.stop();
  const b = await loadB.stop();

  assert.deepEqual(a.wrong, []);
  assert.deepEqual(a.errors, []);
  assert.ok(
    atReload > beforeReload && a.ok > atReload,
    `pool a served throughout (${a.ok} replies)`,
  );
  // Pool b's clients were closed by the drain; what they got before was right.
  assert.deepEqual(b.wrong, []);
  for (const e of b.errors) assert.match(e, /connection closed/);
  assert.doesNotMatch(legate.output().slice(from), /reload refused by worker/);

  // Keys now follow the ring with the third shard.
  const keys = Array.from(
    { length: 60 },
    (_, i) => `moved:${i}.${Math.imul(i + 1, 2654435761) >>> 0}`,
  );
  const where = await locate(config.file, keys, 'a');
  const c = await RawClient.connect(ports.a);
  for (const k of keys) assert.equal(String(await c.call('SET', k, k)), 'OK');
  c.close();
  for (const k of keys) assert.deepEqual(await holders(after3, k), [portOf(where.get(k) ?? '')], k);
  assert.ok(
    keys.some((k) => portOf(where.get(k) ?? '') === after3[2]),
    'some keys live on the new shard',
  );
  const inC = await RawClient.connect(ports.c);
  assert.equal(String(await inC.call('SET', 'in:c', 'c')), 'OK');
  assert.deepEqual(await holders([bShard], 'in:c'), [bShard]);
  inC.close();
});
