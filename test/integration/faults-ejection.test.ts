// Ejection across workers: a dead shard leaves the ring once for the whole process (failures
// counted in shared memory by both workers), its keys follow the ring without it, and it rejoins
// only after a health check passes. With auto_eject_hosts false, its keys fail fast instead.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  accepts,
  httpGet,
  keysOn,
  serverStats,
  sleep,
  until,
  waitForLog,
  workerOf,
} from '../helpers/faults.ts';
import { locate, portOf } from '../helpers/keys.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startRedisServer,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { holders, RawClient } from '../helpers/resp.ts';

const RETRY_MS = 1000;
const EJECT = { auto_eject_hosts: true, server_failure_limit: 2, server_retry_timeout: RETRY_MS };

let main: RedisProcess[] = [];
let solo: RedisProcess;
let fixed: RedisProcess[] = [];
const restarted: RedisProcess[] = [];
let legate: RunningProcess;
let ports: { main: number; solo: number; fixed: number; busy: number };
/** A shard that accepts connections but answers every request -LOADING. */
let loadingShard: Server;
let loadingPort: number;
let config: { file: string; cleanup(): void };
/** The main pool without its first server: where ketama must put that server's keys. */
let without: { file: string; cleanup(): void };
const clients: RawClient[] = [];

before(async () => {
  main = await startShards(3);
  solo = await startRedisServer();
  fixed = await startShards(2);
  ports = {
    main: await freePort(),
    solo: await freePort(),
    fixed: await freePort(),
    busy: await freePort(),
  };
  loadingPort = await freePort();
  loadingShard = createServer((s) => {
    s.on('data', (d: Buffer) => {
      // One reply per request: legate forwards each as an array whose first line starts with '*'.
      const requests = d.toString('latin1').match(/(^|\n)\*/g)?.length ?? 0;
      s.write('-LOADING Redis is loading the dataset in memory\r\n'.repeat(requests));
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => loadingShard.listen(loadingPort, '127.0.0.1', r));
  const mainShards = main.map((s) => s.port);
  config = writeConfig(
    [
      poolYaml({
        name: 'main',
        port: ports.main,
        shards: mainShards,
        extra: { ...EJECT, timeout: 500 },
      }),
      poolYaml({
        name: 'solo',
        port: ports.solo,
        shards: [solo.port],
        extra: { ...EJECT, timeout: 500 },
      }),
      poolYaml({
        name: 'fixed',
        port: ports.fixed,
        shards: fixed.map((s) => s.port),
        extra: { auto_eject_hosts: false, timeout: 5000 },
      }),
      poolYaml({
        name: 'busy',
        port: ports.busy,
        shards: [main[1].port, loadingPort],
        extra: { ...EJECT, timeout: 500 },
      }),
    ].join(''),
  );
  without = writeConfig(
    poolYaml({ name: 'main', port: ports.main, shards: mainShards.slice(1), extra: EJECT }),
  );
  legate = await startLegate(['-c', config.file, '-w', '2']);
});

after(async () => {
  for (const c of clients) c.close();
  await legate?.stop();
  await new Promise((r) => loadingShard?.close(r));
  await stopAll([...main, solo, ...fixed, ...restarted].filter(Boolean));
  config?.cleanup();
  without?.cleanup();
});

function kill(shard: RedisProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => shard.process.once('exit', () => resolve()));
  shard.process.kill('SIGKILL');
  return exited;
}

/** Whether /stats shows the main pool's server `name` out of the ring. */
async function ejected(name: string): Promise<boolean> {
  const found = (await serverStats(legate.adminPort ?? 0, 'main')).find((s) => s.name === name);
  assert.ok(found, name);
  return found.ejected;
}

/** Connections to `port` until both workers have at least `each`. */
async function clientsOnBothWorkers(port: number, each: number): Promise<RawClient[]> {
  const got: RawClient[][] = [[], []];
  for (let i = 0; i < 200 && (got[0].length < each || got[1].length < each); i++) {
    const c = await RawClient.connect(port);
    clients.push(c);
    got[await workerOf(c, 2)].push(c);
  }
  assert.ok(got[0].length >= each && got[1].length >= each, 'connections on both workers');
  return [...got[0].slice(0, each), ...got[1].slice(0, each)];
}

describe('auto_eject_hosts: true, two workers', () => {
  let victim: RedisProcess;
  let victimKeys: string[];

  it('ejects a killed shard once for the whole process; its keys move where ketama without it puts them', async () => {
    victim = main[0];
    const name = `127.0.0.1:${victim.port}`;
    victimKeys = await keysOn(config.file, 'ej', 24, victim.port, 'main');
    const conns = await clientsOnBothWorkers(ports.main, 2);
    for (const [i, c] of conns.entries()) {
      // Every worker has a live connection to the victim before it dies.
      assert.equal(await c.call('SET', victimKeys[i], 'before'), 'OK');
    }
    assert.deepEqual(await holders([victim.port], victimKeys[0]), [victim.port]);

    const logFrom = legate.output().length;
    await kill(victim);
    // Both workers keep asking for the victim's keys. Each worker's connection closing counts a
    // failure in shared memory, so the two workers together may reach the limit at once; until
    // ejection the answer is an error naming the shard, after it the key is simply not on the
    // server that now owns it. Never a value.
    const seen: string[] = [];
    const took = await until(
      async () => {
        for (const c of conns) seen.push((await c.command('GET', victimKeys[0])).toString());
        return ejected(name);
      },
      5000,
      'the killed shard ejected',
    );
    for (const r of seen) {
      assert.ok(r.startsWith(`-ERR shard ${name} `) || r === '$-1\r\n', r);
    }
    const line = await waitForLog(
      legate,
      new RegExp(
        `"msg":"server ${name.replace(/\./g, '\\.')} ejected from pool main after 2 failures: [^"]*"`,
      ),
      5000,
      logFrom,
    );
    assert.ok(line, `ejected within ${took} ms`);
    // Counted in shared memory: one ejection, not one per worker.
    const stats = await serverStats(legate.adminPort ?? 0, 'main');
    assert.deepEqual(
      stats.map((s) => [s.name, s.ejected, s.ejects]),
      stats.map((s) => (s.name === name ? [name, true, 1] : [s.name, false, 0])),
    );

    // Every worker now sends the victim's keys to the ring without it.
    const expected = await locate(without.file, victimKeys);
    for (const [i, key] of victimKeys.entries()) {
      const c = conns[i % conns.length];
      assert.equal(await c.call('SET', key, `after-${i}`), 'OK', key);
      assert.equal((await c.call('GET', key))?.toString(), `after-${i}`);
    }
    const alive = main.slice(1).map((s) => s.port);
    for (const key of victimKeys) {
      assert.deepEqual(await holders(alive, key), [portOf(expected.get(key) ?? '')], key);
    }
    assert.equal((await httpGet(legate.adminPort ?? 0, '/readyz')).status, 200);
  });

  it('re-admits the shard only after it passes a health check, not when it merely accepts TCP', async () => {
    const name = `127.0.0.1:${victim.port}`;
    const quoted = name.replace(/\./g, '\\.');
    // 1. Something listens again, but answers -LOADING to everything.
    const sockets = new Set<Socket>();
    const loading: Server = createServer((s) => {
      sockets.add(s);
      s.on('data', () => s.write('-LOADING Redis is loading the dataset in memory\r\n'));
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => loading.listen(victim.port, '127.0.0.1', r));
    let from = legate.output().length;
    await waitForLog(
      legate,
      new RegExp(`"msg":"server ${quoted} stays ejected: health check got '-LOADING`),
      RETRY_MS * 3,
      from,
    );
    assert.ok(await accepts(victim.port));
    assert.equal(await ejected(name), true);
    // Its keys still go elsewhere, and work.
    const c = clients[0];
    assert.equal(await c.call('SET', victimKeys[0], 'while-loading'), 'OK');
    assert.equal((await c.call('GET', victimKeys[0]))?.toString(), 'while-loading');
    for (const s of sockets) s.destroy();
    await new Promise((r) => loading.close(r));

    // 2. A real Redis, but one that wants a password legate does not have.
    const locked = await startRedisServer({ port: victim.port, args: ['--requirepass', 'sesame'] });
    restarted.push(locked);
    from = legate.output().length;
    await waitForLog(
      legate,
      new RegExp(`"msg":"server ${quoted} stays ejected: health check got '-NOAUTH`),
      RETRY_MS * 3,
      from,
    );
    assert.equal(await ejected(name), true);
    assert.doesNotMatch(legate.output().slice(from), /re-admitted/);

    // 3. Fixed: the next health check passes and the server rejoins the ring.
    const admin = await RawClient.connect(victim.port);
    assert.equal(await admin.call('AUTH', 'sesame'), 'OK');
    assert.equal(await admin.call('CONFIG', 'SET', 'requirepass', ''), 'OK');
    admin.close();
    from = legate.output().length;
    await waitForLog(
      legate,
      new RegExp(`"msg":"server ${quoted} re-admitted to pool main after a passing health check"`),
      RETRY_MS * 3,
      from,
    );
    assert.equal(await ejected(name), false);
    // Its keys come back to it, on both workers.
    const conns = await clientsOnBothWorkers(ports.main, 1);
    for (const [i, conn] of conns.entries()) {
      const key = victimKeys[10 + i];
      assert.equal(await conn.call('SET', key, 'back'), 'OK');
      assert.deepEqual(await holders([victim.port], key), [victim.port], key);
    }
  });

  it('/readyz is 503 while every server of a pool is ejected, 200 once one returns', async () => {
    assert.equal((await httpGet(legate.adminPort ?? 0, '/readyz')).status, 200);
    const port = solo.port;
    await kill(solo);
    const c = await RawClient.connect(ports.solo);
    clients.push(c);
    let lastReply = '';
    await until(
      async () => {
        lastReply = (await c.command('GET', 'solo-key')).toString();
        return (await httpGet(legate.adminPort ?? 0, '/readyz')).status === 503;
      },
      5000,
      'readyz 503',
    );
    const ready = await httpGet(legate.adminPort ?? 0, '/readyz');
    assert.match(ready.body, /pool solo has no live server/);
    lastReply = (await c.command('GET', 'solo-key')).toString();
    assert.equal(lastReply, "-ERR no live server in pool 'solo'\r\n");

    const back = await startRedisServer({ port });
    restarted.push(back);
    await until(
      async () => (await httpGet(legate.adminPort ?? 0, '/readyz')).status === 200,
      RETRY_MS * 3,
      'readyz 200 again',
    );
    assert.equal(await c.call('SET', 'solo-key', 'v'), 'OK');
    assert.equal((await c.call('GET', 'solo-key'))?.toString(), 'v');
  });
});

describe('auto_eject_hosts: true, a shard that answers but cannot serve', () => {
  it('counts -LOADING replies as failures: passed on to the client, then the shard is ejected', async () => {
    const name = `127.0.0.1:${loadingPort}`;
    const keys = await keysOn(config.file, 'ld', 4, loadingPort, 'busy');
    const c = await RawClient.connect(ports.busy);
    clients.push(c);
    const from = legate.output().length;
    const loading = '-LOADING Redis is loading the dataset in memory\r\n';
    // Two failures in a row (server_failure_limit 2): both replies reach the client as they are.
    assert.equal((await c.command('GET', keys[0])).toString(), loading);
    assert.equal((await c.command('GET', keys[1])).toString(), loading);
    await waitForLog(
      legate,
      new RegExp(
        `"msg":"server ${name.replace(/\./g, '\\.')} ejected from pool busy after 2 failures: replied LOADING`,
      ),
      2000,
      from,
    );
    // Its keys now live on the other shard.
    for (const k of keys) {
      assert.equal(String(await c.call('SET', k, 'moved')), 'OK');
      assert.deepEqual(await holders([main[1].port], k), [main[1].port]);
    }
  });
});

describe('auto_eject_hosts: false', () => {
  it("answers a dead shard's keys with an error at once (not after the timeout); the rest keep working", async () => {
    const [dead, live] = fixed;
    const name = `127.0.0.1:${dead.port}`;
    const deadKeys = await keysOn(config.file, 'fx', 4, dead.port, 'fixed');
    const liveKeys = await keysOn(config.file, 'fx', 4, live.port, 'fixed');
    const conns = await clientsOnBothWorkers(ports.fixed, 1);
    for (const c of conns) {
      for (const k of [...deadKeys, ...liveKeys]) assert.equal(await c.call('SET', k, k), 'OK');
    }
    await kill(dead);
    const slowest = { dead: 0, live: 0 };
    const messages = new Set<string>();
    const started = Date.now();
    // 2.5 s spans several connect backoffs (50 ms doubling): every state of a dead shard.
    while (Date.now() - started < 2500) {
      for (const c of conns) {
        for (const k of deadKeys) {
          const t = performance.now();
          const r = (await c.command('GET', k)).toString();
          slowest.dead = Math.max(slowest.dead, performance.now() - t);
          assert.ok(r.startsWith(`-ERR shard ${name} `), r);
          messages.add(r.replace(/\d+/g, 'N').trim());
        }
        for (const k of liveKeys) {
          const t = performance.now();
          assert.equal((await c.call('GET', k))?.toString(), k);
          slowest.live = Math.max(slowest.live, performance.now() - t);
        }
      }
      await sleep(20);
    }
    assert.ok(
      slowest.dead < 1000,
      `slowest error reply ${slowest.dead.toFixed(1)} ms (timeout 5000)`,
    );
    assert.ok(slowest.live < 1000, `slowest good reply ${slowest.live.toFixed(1)} ms`);
    assert.ok(
      [...messages].some((m) => m.includes(' unavailable: ')),
      `an 'unavailable' reply among ${[...messages].join(' | ')}`,
    );
    const stats = await serverStats(legate.adminPort ?? 0, 'fixed');
    assert.deepEqual(
      stats.map((s) => s.ejected),
      [false, false],
    );
  });
});
