// The TCP broker's data plane against real redis-servers: bytes through with redis-cli and
// redis-benchmark, balancing and backup failover by health checks, maxconn queueing, idle
// timeouts, a client that never reads, admin drain/maint, the environment profile switch.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { httpGet } from '../helpers/admin.ts';
import { reachedPort, serverStats, serviceYaml, startBroker, tcpStats } from '../helpers/broker.ts';
import { rssBytes, sleep, until } from '../helpers/faults.ts';
import { freePort, type RedisProcess, run, startShards, stopAll } from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

let redis: RedisProcess[] = [];
const spareRedis: RedisProcess[] = [];
let backupPort = 0;

before(async () => {
  redis = await startShards(3);
});

after(async () => {
  await stopAll(redis);
});

describe('plain TCP through the broker', () => {
  let port: number;
  let broker: Awaited<ReturnType<typeof startBroker>>;

  before(async () => {
    port = await freePort();
    broker = await startBroker(
      serviceYaml({
        port,
        servers: `- address: 127.0.0.1:${redis[0].port}\n  name: a\n- address: 127.0.0.1:${redis[1].port}\n  name: b`,
      }),
    );
  });
  after(async () => {
    await broker?.stop();
  });

  it('carries redis-cli and redis-benchmark -P 16 sessions, round-robin over both servers', async () => {
    const set = await run('redis-cli', ['-p', String(port), 'SET', 'k', 'v']);
    assert.equal(set.stdout.toString().trim(), 'OK');
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) seen.add(await reachedPort(port));
    assert.deepEqual([...seen].sort(), [redis[0].port, redis[1].port].sort());
    const bench = await run('redis-benchmark', [
      '-p',
      String(port),
      '-P',
      '16',
      '-n',
      '20000',
      '-c',
      '10',
      '-t',
      'set,get',
      '-q',
    ]);
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout.toString(), /SET: [\d.]+ requests per second/);
    assert.match(bench.stdout.toString(), /GET: [\d.]+ requests per second/);
    const stats = await tcpStats(broker.adminPort);
    const svc = stats.services[0];
    assert.ok(svc.stot >= 25, `sessions total ${svc.stot}`);
    assert.ok(svc.bin > 20000 * 20, `bytes in ${svc.bin}`);
    assert.equal(svc.scur, 0);
    const a = stats.backends[0].servers[0];
    const b = stats.backends[0].servers[1];
    assert.ok(a.stot > 0 && b.stot > 0 && a.stot + b.stot === svc.stot, JSON.stringify(stats));
    assert.equal(a.bin + b.bin, svc.bin);
    assert.equal(a.bout + b.bout, svc.bout);
  });

  it('forwards a half-close: the reply to a request sent with FIN still arrives', async () => {
    const c = await RawClient.connect(port);
    c.socket.end('PING\r\n');
    const [reply] = await c.read(1, 5000);
    assert.equal(reply.toString(), '+PONG\r\n');
    assert.ok(await c.waitClosed(5000), 'closed once both sides ended');
  });

  it('a session held open shows its bytes in /stats as they flow, not only when it ends', async () => {
    const bytes = async () => {
      const t = await tcpStats(broker.adminPort);
      const servers = t.backends[0].servers;
      return {
        in: t.services[0].bin,
        out: t.services[0].bout,
        serverIn: servers.reduce((n, s) => n + s.bin, 0),
        serverOut: servers.reduce((n, s) => n + s.bout, 0),
      };
    };
    const start = await bytes();
    const c = await RawClient.connect(port);
    const value = 'y'.repeat(100_000);
    await c.command('SET', 'held', value);
    await until(async () => (await bytes()).in - start.in >= 100_000, 3000, 'bytes in counted');
    await c.command('GET', 'held');
    await until(async () => (await bytes()).out - start.out >= 100_000, 3000, 'bytes out counted');
    const seen = await bytes();
    assert.ok(seen.serverIn - start.serverIn >= 100_000, 'the server counts them too');
    assert.ok(seen.serverOut - start.serverOut >= 100_000);
    assert.equal(c.closed, false, 'the session is still open');
    c.close();
    // Counted once: the end of the session adds only what the sweep had not.
    await sleep(500);
    const end = await bytes();
    assert.ok(end.in - start.in < 101_000, `bin ${end.in - start.in}`);
    assert.ok(end.out - start.out < 101_000, `bout ${end.out - start.out}`);
  });

  it('a client that never reads is paused, not buffered: legate stays small while redis holds the output', async () => {
    const pid = broker.legate.child.pid ?? 0;
    const value = 'x'.repeat(512 * 1024);
    const setter = await RawClient.connect(port);
    await setter.command('SET', 'big', value);
    setter.close();
    const before = rssBytes(pid);
    const c = await RawClient.connect(port);
    c.socket.pause();
    // 400 GETs of 512 KB: 200 MB of replies toward a client that reads nothing.
    c.write('GET big\r\n'.repeat(400));
    await sleep(1500);
    const grown = rssBytes(pid) - before;
    assert.ok(grown < 40 * 1024 * 1024, `legate grew ${Math.round(grown / 1048576)} MB`);
    c.close();
  });
});

/** One service: `main` (its port given), and `spare` as its backup; redis checks every 100 ms. */
function withBackup(mainPort: number): string {
  return serviceYaml({
    port: backupPort,
    keys: 'check:\n  type: redis\n  interval: 100\n  fall: 2\n  rise: 2\n  timeout: 500',
    servers: `- address: 127.0.0.1:${mainPort}\n  name: main\n- address: 127.0.0.1:${spareRedis[1].port}\n  name: spare\n  backup: true`,
  });
}

describe('health checks, backups and admin states', () => {
  let broker: Awaited<ReturnType<typeof startBroker>>;
  const spare = spareRedis;

  before(async () => {
    backupPort = await freePort();
    spare.push(...(await startShards(2)));
    broker = await startBroker(withBackup(spare[0].port));
  });
  after(async () => {
    await broker?.stop();
    await stopAll(spare);
  });

  it('sends sessions to the active server while it is up, to the backup when it is down, and back', async () => {
    assert.equal(await reachedPort(backupPort), spare[0].port);
    const from = broker.legate.output().length;
    await spare[0].stop();
    await until(
      async () => (await serverStats(broker.adminPort, 'main')).status === 'DOWN',
      5000,
      'main marked DOWN',
    );
    const main = await serverStats(broker.adminPort, 'main');
    assert.equal(main.check?.code, 'L4CON');
    assert.ok(main.chkdown >= 1);
    assert.match(broker.legate.output().slice(from), /server svc\/main is DOWN \(was UP\): L4CON/);
    assert.equal(await reachedPort(backupPort), spare[1].port);
    spare[0] = (await startShards(1))[0];
    // A new redis on a new port: point main at it through a reload.
    const yaml = withBackup(spare[0].port);
    writeFileSync(broker.config.file, yaml);
    process.kill(broker.legate.child.pid ?? 0, 'SIGHUP');
    await until(
      async () => (await serverStats(broker.adminPort, 'main')).status === 'UP',
      5000,
      'main UP again',
    );
    assert.equal(await reachedPort(backupPort), spare[0].port);
  });

  it('admin drain and maint take a server out of balancing; ready brings it back', async () => {
    const post = (state: string) =>
      httpGet(broker.adminPort, `/tcp/servers/svc/main?state=${state}`, 'POST');
    assert.equal((await post('drain')).status, 200);
    assert.equal((await serverStats(broker.adminPort, 'main')).status, 'DRAIN');
    assert.equal(await reachedPort(backupPort), spare[1].port);
    assert.equal((await post('maint')).status, 200);
    assert.equal((await serverStats(broker.adminPort, 'main')).status, 'MAINT');
    assert.equal((await post('ready')).status, 200);
    assert.equal(await reachedPort(backupPort), spare[0].port);
    const bad = await post('sleep');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /ready, drain, maint/);
    const none = await httpGet(broker.adminPort, '/tcp/servers/svc/nope?state=drain', 'POST');
    assert.equal(none.status, 404);
    assert.match(none.body, /no server 'nope'/);
    const noBackend = await httpGet(
      broker.adminPort,
      '/tcp/servers/state/main?state=drain',
      'POST',
    );
    assert.equal(noBackend.status, 404);
    assert.match(noBackend.body, /no backend or service 'state'/);
    const badEscape = await httpGet(
      broker.adminPort,
      '/tcp/servers/svc/ma%E0%A4%A?state=drain',
      'POST',
    );
    assert.equal(badEscape.status, 400);
    assert.match(badEscape.body, /bad %-escape/);
  });
});

describe('retries and redispatch', () => {
  it('a server that refuses: retried, then the last retry goes to the other one; every session served', async () => {
    const port = await freePort();
    const dead = await freePort();
    const broker = await startBroker(
      serviceYaml({
        port,
        keys: 'retries: 2',
        servers: `- address: 127.0.0.1:${dead}\n  name: dead\n- address: 127.0.0.1:${redis[0].port}\n  name: live`,
      }),
    );
    try {
      for (let i = 0; i < 4; i++) assert.equal(await reachedPort(port), redis[0].port);
      // A request and FIN sent at once: legate reads them from the accept, often while an
      // attempt on dead is still failing; they are held and sent on each attempt, so the reply
      // is the one to them, and the FIN follows them.
      for (let i = 0; i < 4; i++) {
        const c = await RawClient.connect(port);
        c.socket.end(`*2\r\n$4\r\nECHO\r\n$${String(i).length}\r\n${i}\r\n`);
        const [reply] = await c.read(1, 5000);
        assert.equal(reply.toString(), `$1\r\n${i}\r\n`);
        assert.ok(await c.waitClosed(5000), 'closed after the reply');
      }
      const dead1 = await serverStats(broker.adminPort, 'dead');
      const live = await serverStats(broker.adminPort, 'live');
      // Each session sent to dead fails twice there (the first attempt and one retry), and the
      // last retry goes to live.
      assert.ok(live.wredis >= 1, `redispatches ${live.wredis}`);
      assert.equal(dead1.econ, 2 * live.wredis);
      assert.equal(dead1.wretr, 2 * live.wredis);
      assert.equal(dead1.stot, 0);
      assert.equal(live.stot, 8);
    } finally {
      await broker.stop();
    }
  });
});

describe('maxconn queueing and timeouts', () => {
  let port: number;
  let broker: Awaited<ReturnType<typeof startBroker>>;

  before(async () => {
    port = await freePort();
    broker = await startBroker(
      serviceYaml({
        port,
        keys: 'queue_timeout: 1500\nclient_timeout: 1000',
        servers: `- address: 127.0.0.1:${redis[2].port}\n  name: one\n  maxconn: 1`,
      }),
    );
  });
  after(async () => {
    await broker?.stop();
  });

  it('a session past maxconn waits in the queue and is served when the slot frees', async () => {
    const first = await RawClient.connect(port);
    assert.equal((await first.command('PING')).toString(), '+PONG\r\n');
    const second = await RawClient.connect(port);
    second.write('PING\r\n');
    await until(
      async () => (await tcpStats(broker.adminPort)).backends[0].qcur === 1,
      3000,
      'one queued',
    );
    assert.equal((await serverStats(broker.adminPort, 'one')).scur, 1);
    first.close();
    const [reply] = await second.read(1, 3000);
    assert.equal(reply.toString(), '+PONG\r\n');
    assert.equal((await tcpStats(broker.adminPort)).backends[0].qmax, 1);
    second.close();
  });

  it('a queued session is closed after queue_timeout', async () => {
    const holder = await RawClient.connect(port);
    await holder.command('PING');
    const waiting = await RawClient.connect(port);
    const started = Date.now();
    assert.ok(await waiting.waitClosed(5000), 'closed');
    const waited = Date.now() - started;
    assert.ok(waited >= 1300 && waited < 4000, `closed after ${waited} ms`);
    holder.close();
  });

  it('an idle session is closed after client_timeout; an active one is not', async () => {
    const idle = await RawClient.connect(port);
    await idle.command('PING');
    const started = Date.now();
    assert.ok(await idle.waitClosed(5000), 'idle session closed');
    const after = Date.now() - started;
    assert.ok(after >= 900 && after < 3000, `closed after ${after} ms`);
    const busy = await RawClient.connect(port);
    for (let i = 0; i < 8; i++) {
      assert.equal((await busy.command('PING')).toString(), '+PONG\r\n');
      await sleep(300);
    }
    assert.equal(busy.closed, false);
    busy.close();
  });
});

describe('service maxconn', () => {
  it('a connection past the service maxconn (all workers together) is closed at once', async () => {
    const port = await freePort();
    const broker = await startBroker(
      serviceYaml({ port, keys: 'maxconn: 2', servers: `- 127.0.0.1:${redis[0].port}` }),
    );
    try {
      const held = [await RawClient.connect(port), await RawClient.connect(port)];
      for (const c of held) assert.equal((await c.command('PING')).toString(), '+PONG\r\n');
      const third = await RawClient.connect(port);
      assert.ok(await third.waitClosed(3000), 'closed');
      assert.equal((await tcpStats(broker.adminPort)).services[0].smax, 2);
      held[0].close();
      await until(
        async () => (await tcpStats(broker.adminPort)).services[0].scur === 1,
        3000,
        'one left',
      );
      const again = await RawClient.connect(port);
      assert.equal((await again.command('PING')).toString(), '+PONG\r\n');
      again.close();
      held[1].close();
    } finally {
      await broker.stop();
    }
  });
});

describe('environment profiles', () => {
  it('LEGATE_ENV picks the profile; tcp.env is the default', async () => {
    const port = await freePort();
    const yaml = serviceYaml({
      port,
      env: 'dev',
      servers: `dev:\n  - 127.0.0.1:${redis[0].port}\nprod:\n  - 127.0.0.1:${redis[1].port}`,
    });
    const dev = await startBroker(yaml);
    try {
      assert.equal(await reachedPort(port), redis[0].port);
    } finally {
      await dev.stop();
    }
    const prod = await startBroker(yaml, { env: { LEGATE_ENV: 'prod' } });
    try {
      assert.equal(await reachedPort(port), redis[1].port);
    } finally {
      await prod.stop();
    }
  });
});
