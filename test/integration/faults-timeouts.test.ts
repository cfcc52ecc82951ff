// Timeouts and overload: a shard that stops answering (DEBUG SLEEP) costs its waiting requests a
// `-ERR … timed out` after about `timeout`, the connection is replaced, and the shard's later
// requests work; past server_max_inflight, requests are refused at once rather than queued; a
// connect that never completes is given up after `timeout`.
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { keysOn, serverStats, sleep } from '../helpers/faults.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startRedisServer,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { encode, type RawClient, RawClients } from '../helpers/resp.ts';

const TIMEOUT_MS = 300;
const MAX_INFLIGHT = 4;

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let ports: { slow: number; capped: number };
let config: { file: string; cleanup(): void };
let slowKeys: string[];
let fastKeys: string[];
const clients = new RawClients();

before(async () => {
  // Redis 7 refuses DEBUG unless enabled.
  shards = await Promise.all(
    [0, 1].map(() => startRedisServer({ args: ['--enable-debug-command', 'yes'] })),
  );
  ports = { slow: await freePort(), capped: await freePort() };
  const servers = shards.map((s) => s.port);
  config = writeConfig(
    [
      poolYaml({ name: 'slow', port: ports.slow, shards: servers, extra: { timeout: TIMEOUT_MS } }),
      // The same shards as a second pool, with a tight cap and a timeout the sleep stays under.
      poolYaml({
        name: 'capped',
        port: ports.capped,
        shards: servers,
        extra: { timeout: 3000, server_max_inflight: MAX_INFLIGHT },
      }),
    ].join(''),
  );
  // One worker: the cap is per shard connection, and one worker has one connection per shard.
  legate = await startLegate(['-c', config.file, '-w', '1']);
  slowKeys = await keysOn(config.file, 'to', 20, shards[0].port, 'slow');
  fastKeys = await keysOn(config.file, 'to', 4, shards[1].port, 'slow');
  const c = await connect(ports.slow);
  for (const k of [...slowKeys, ...fastKeys]) assert.equal(await c.call('SET', k, `v-${k}`), 'OK');
});

after(async () => {
  clients.closeAll();
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
});

const connect = (port: number): Promise<RawClient> => clients.connect(port);

/** Blocks shard 0 for `seconds`; `woke` resolves with its reply when it wakes up. */
async function sleepShard(seconds: number): Promise<{ woke: Promise<Buffer> }> {
  const direct = await connect(shards[0].port);
  const woke = direct.command('DEBUG', 'SLEEP', seconds);
  // Let the shard read it before legate's requests do.
  await sleep(30);
  return { woke };
}

it('requests waiting on a sleeping shard get "-ERR … timed out" after about `timeout`; later ones work', async () => {
  const name = `127.0.0.1:${shards[0].port}`;
  const c = await connect(ports.slow);
  const other = await connect(ports.slow);
  assert.equal((await c.call('GET', slowKeys[0]))?.toString(), `v-${slowKeys[0]}`);
  const before = (await serverStats(legate.adminPort ?? 0, 'slow')).find((s) => s.name === name);
  const { woke } = await sleepShard(1.2);

  // A pipeline of requests to the sleeping shard: each gets the timeout error, at about the timeout.
  let t = performance.now();
  c.write(Buffer.concat(slowKeys.slice(0, 5).map((k) => encode('GET', k))));
  const timedOut = await c.read(5, 5000);
  const took = performance.now() - t;
  for (const r of timedOut) {
    assert.equal(r.toString(), `-ERR shard ${name} timed out after ${TIMEOUT_MS} ms\r\n`);
  }
  assert.ok(took >= TIMEOUT_MS - 20 && took < TIMEOUT_MS + 400, `timed out after ${took} ms`);

  // Meanwhile the other shard answers as usual.
  t = performance.now();
  assert.equal((await other.call('GET', fastKeys[0]))?.toString(), `v-${fastKeys[0]}`);
  assert.ok(performance.now() - t < 100);

  // The connection was replaced: a request now goes out on a new one (which also times out,
  // the shard still sleeps), and once the shard wakes up requests work again.
  assert.equal(
    (await c.command('GET', slowKeys[5])).toString(),
    `-ERR shard ${name} timed out after ${TIMEOUT_MS} ms\r\n`,
  );
  assert.equal((await woke).toString(), '+OK\r\n');
  for (const k of slowKeys.slice(0, 10))
    assert.equal((await c.call('GET', k))?.toString(), `v-${k}`);
  await sleep(1100); // the stats snapshot interval
  const now = (await serverStats(legate.adminPort ?? 0, 'slow')).find((s) => s.name === name);
  assert.ok(before && now);
  assert.ok(
    (now.server_timedout as number) >= (before.server_timedout as number) + 2,
    `server_timedout ${before.server_timedout} -> ${now.server_timedout}`,
  );
});

it('past server_max_inflight, a pipelined burst gets "-ERR legate overloaded" for the excess, and no hang', async () => {
  const c = await connect(ports.capped);
  const second = await connect(ports.capped);
  const name = `127.0.0.1:${shards[0].port}`;
  const value = (k: string) => `$${`v-${k}`.length}\r\nv-${k}\r\n`;
  const overloaded = `-ERR legate overloaded: shard ${name} has ${MAX_INFLIGHT} requests in flight (server_max_inflight)\r\n`;
  assert.equal((await c.call('GET', slowKeys[0]))?.toString(), `v-${slowKeys[0]}`);
  assert.equal((await second.call('GET', slowKeys[0]))?.toString(), `v-${slowKeys[0]}`);
  const { woke } = await sleepShard(0.5);
  const t = performance.now();
  // 12 from one client (under the 16 a client may have in flight before its replies say how
  // large they are), then 6 from another: the cap is the shard connection's, whoever asks.
  const burst = slowKeys.slice(0, 12);
  c.write(Buffer.concat(burst.map((k) => encode('GET', k))));
  await sleep(20);
  second.write(Buffer.concat(slowKeys.slice(12, 18).map((k) => encode('GET', k))));
  const [replies, others] = await Promise.all([c.read(12, 5000), second.read(6, 5000)]);
  const took = performance.now() - t;
  await woke;
  // In request order: the first MAX_INFLIGHT went out and got their values once the shard woke.
  assert.deepEqual(
    replies.map(String),
    burst.map((k, i) => (i < MAX_INFLIGHT ? value(k) : overloaded)),
  );
  assert.deepEqual(others.map(String), Array(6).fill(overloaded));
  assert.ok(took < 1500, `all replies in ${took.toFixed(0)} ms`);
  // The cap frees up as replies come back.
  for (const k of slowKeys) assert.equal((await c.call('GET', k))?.toString(), `v-${k}`);
});

it('a shard whose connect never completes gets "connect timed out" after `timeout`, then a fast refusal', async () => {
  // A stopped redis-server with a listen backlog of 1: once two connections fill its accept
  // queue the kernel drops further SYNs, so a connect hangs, as to a black-holed host.
  const stuck = await startRedisServer({ args: ['--tcp-backlog', '1'] });
  const fillers: Socket[] = [];
  const port = await freePort();
  const file = writeConfig(
    poolYaml({ name: 'hole', port, shards: [stuck.port], extra: { timeout: TIMEOUT_MS } }),
    'hole.yml',
  );
  let hole: RunningProcess | undefined;
  try {
    stuck.process.kill('SIGSTOP');
    while (true) {
      const s = netConnect(stuck.port, '127.0.0.1');
      fillers.push(s);
      const connected = await new Promise<boolean>((resolve) => {
        s.once('connect', () => resolve(true));
        s.once('error', () => resolve(false));
        setTimeout(() => resolve(false), 300);
      });
      if (!connected) break;
      assert.ok(fillers.length < 10, 'the accept queue fills');
    }
    hole = await startLegate(['-c', file.file, '-w', '1']);
    const c = await clients.connect(port);
    const started = Date.now();
    const reply = (await c.command('GET', 'k')).toString();
    const waited = Date.now() - started;
    assert.match(reply, /^-ERR shard \S+ connect timed out after 300 ms\r\n$/);
    assert.ok(
      waited >= TIMEOUT_MS - 20 && waited < TIMEOUT_MS + 700,
      `answered after ${waited} ms`,
    );
    // In backoff now: refused at once, saying why, rather than queued on a dead connect.
    const again = Date.now();
    assert.match(
      (await c.command('GET', 'k')).toString(),
      /^-ERR shard \S+ unavailable: .*timed out/,
    );
    assert.ok(Date.now() - again < 200, 'the next request is refused at once');
  } finally {
    for (const s of fillers) s.destroy();
    stuck.process.kill('SIGCONT');
    await hole?.stop();
    await stuck.stop();
    file.cleanup();
  }
});
