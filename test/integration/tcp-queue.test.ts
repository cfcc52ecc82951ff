// The broker's queue when servers are at their maxconn, against real redis-servers: a session
// that times out in the queue leaves it at once (qcur, and the next pick is HAProxy's), and
// under `balance source` a session waits only for its own server.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { redisPortOf, serviceYaml, startBroker, tcpStats } from '../helpers/broker.ts';
import { until } from '../helpers/faults.ts';
import { freePort, type RedisProcess, startShards, stopAll } from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

let redis: RedisProcess[] = [];

before(async () => {
  redis = await startShards(2);
});

after(async () => {
  await stopAll(redis);
});

const twoServers = () =>
  `- address: 127.0.0.1:${redis[0].port}\n  name: a\n  maxconn: 1\n- address: 127.0.0.1:${redis[1].port}\n  name: b\n  maxconn: 1`;

it('a session that times out in the queue leaves it: qcur is 0 at once', async () => {
  const port = await freePort();
  const broker = await startBroker(
    serviceYaml({ port, keys: 'queue_timeout: 300', servers: twoServers() }),
    { workers: 1 },
  );
  try {
    const first = await RawClient.connect(port);
    const second = await RawClient.connect(port);
    assert.deepEqual(
      [await redisPortOf(first), await redisPortOf(second)],
      [redis[0].port, redis[1].port],
      'roundrobin: a, then b',
    );
    const waiting = await RawClient.connect(port);
    await until(
      async () => (await tcpStats(broker.adminPort)).backends[0].qcur === 1,
      3000,
      'one queued',
    );
    assert.ok(await waiting.waitClosed(3000), 'closed by queue_timeout');
    assert.equal((await tcpStats(broker.adminPort)).backends[0].qcur, 0, 'out of the queue');
    // Which server the next session reaches is compared with HAProxy's in
    // haproxy-differential.test.ts (roundrobin, every server full).
    first.close();
    second.close();
  } finally {
    await broker.stop();
  }
});

it('balance source: a session waiting for a full server does not hold up one whose server has a slot', async () => {
  const port = await freePort();
  const broker = await startBroker(
    serviceYaml({ port, keys: 'balance: source\nqueue_timeout: 10000', servers: twoServers() }),
    { workers: 1 },
  );
  try {
    // Two loopback source addresses that hash to different servers.
    const fromOf = new Map<number, string>();
    for (let k = 1; k <= 32 && fromOf.size < 2; k++) {
      const from = `127.0.0.${k}`;
      const c = await RawClient.connect(port, '127.0.0.1', from);
      const reached = await redisPortOf(c);
      c.close();
      await c.waitClosed(1000);
      if (!fromOf.has(reached)) fromOf.set(reached, from);
    }
    const fromA = fromOf.get(redis[0].port);
    const fromB = fromOf.get(redis[1].port);
    assert.ok(fromA && fromB, 'source addresses for both servers');
    await until(
      async () => (await tcpStats(broker.adminPort)).backends[0].servers.every((s) => s.scur === 0),
      3000,
      'probes gone',
    );
    const holdsA = await RawClient.connect(port, '127.0.0.1', fromA);
    assert.equal(await redisPortOf(holdsA), redis[0].port);
    const waitsForA = await RawClient.connect(port, '127.0.0.1', fromA);
    waitsForA.write('PING\r\n');
    const holdsB = await RawClient.connect(port, '127.0.0.1', fromB);
    assert.equal(await redisPortOf(holdsB), redis[1].port);
    const waitsForB = await RawClient.connect(port, '127.0.0.1', fromB);
    waitsForB.write('PING\r\n');
    await until(
      async () => (await tcpStats(broker.adminPort)).backends[0].qcur === 2,
      3000,
      'two queued',
    );
    holdsB.close();
    const [reply] = await waitsForB.read(1, 2000);
    assert.equal(reply.toString(), '+PONG\r\n', 'served while a is still full');
    assert.equal(await redisPortOf(waitsForB), redis[1].port);
    assert.equal(
      (await tcpStats(broker.adminPort)).backends[0].qcur,
      1,
      'the other one still waits',
    );
    holdsA.close();
    const [late] = await waitsForA.read(1, 2000);
    assert.equal(late.toString(), '+PONG\r\n');
    waitsForA.close();
    waitsForB.close();
  } finally {
    await broker.stop();
  }
});
