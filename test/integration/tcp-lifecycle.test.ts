// The broker through the engine's lifecycle: SIGHUP applies a new config without cutting open
// sessions, SIGTERM stops accepting and lets sessions finish up to drain_timeout, a worker that
// dies gives back its sessions' slots, and `legate top` shows services and servers.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { getStats, httpGet } from '../helpers/admin.ts';
import { serviceYaml, startBroker, tcpStats } from '../helpers/broker.ts';
import { accepts, sleep, until, waitForLog } from '../helpers/faults.ts';
import {
  freePort,
  type RedisProcess,
  runLegate,
  startShards,
  stopAll,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

let redis: RedisProcess[] = [];

before(async () => {
  redis = await startShards(2);
});

after(async () => {
  await stopAll(redis);
});

const servers = (ports: readonly number[]) => ports.map((p) => `- 127.0.0.1:${p}`).join('\n');

it('SIGHUP: an open session keeps working; new sessions follow the new config', async () => {
  const port = await freePort();
  const broker = await startBroker(serviceYaml({ port, servers: servers([redis[0].port]) }));
  try {
    const open = await RawClient.connect(port);
    assert.equal((await open.command('PING')).toString(), '+PONG\r\n');
    writeFileSync(
      broker.config.file,
      serviceYaml({ port, servers: servers([redis[1].port]), keys: 'balance: first' }),
    );
    const from = broker.legate.output().length;
    process.kill(broker.legate.child.pid ?? 0, 'SIGHUP');
    await waitForLog(broker.legate, /"msg":"config reloaded/, 5000, from);
    await sleep(200);
    assert.equal((await open.command('PING')).toString(), '+PONG\r\n', 'the open session survives');
    const port1 = (await open.command('CONFIG', 'GET', 'port')).toString();
    assert.match(port1, new RegExp(`${redis[0].port}\\r\\n$`), 'still on the old server');
    const fresh = await RawClient.connect(port);
    assert.match(
      (await fresh.command('CONFIG', 'GET', 'port')).toString(),
      new RegExp(`${redis[1].port}\\r\\n$`),
    );
    fresh.close();
    open.close();
    // A bad reload is refused and the running config stays.
    writeFileSync(
      broker.config.file,
      serviceYaml({ port, servers: servers([redis[1].port]), keys: 'balance: fastest' }),
    );
    const from2 = broker.legate.output().length;
    process.kill(broker.legate.child.pid ?? 0, 'SIGHUP');
    const refused = await waitForLog(
      broker.legate,
      /\{[^\n]*"msg":"reload refused[^\n]*/,
      5000,
      from2,
    );
    assert.match(refused, /balance/);
    const still = await RawClient.connect(port);
    assert.equal((await still.command('PING')).toString(), '+PONG\r\n');
    still.close();
  } finally {
    await broker.stop();
  }
});

it('SIGTERM: stops accepting, lets an open session finish, exits once it has', async () => {
  const port = await freePort();
  const broker = await startBroker(
    serviceYaml({ port, servers: servers([redis[0].port]), drain: 10000 }),
  );
  const open = await RawClient.connect(port);
  assert.equal((await open.command('PING')).toString(), '+PONG\r\n');
  const exited = broker.legate.stop('SIGTERM');
  await until(async () => !(await accepts(port)), 5000, 'listener closed');
  assert.equal(
    (await open.command('PING')).toString(),
    '+PONG\r\n',
    'the open session still works while draining',
  );
  const closedAt = Date.now();
  open.close();
  assert.equal(await exited, 0);
  assert.ok(
    Date.now() - closedAt < 5000,
    'exits soon after the last session ends, not at drain_timeout',
  );
  broker.config.cleanup();
});

it('SIGTERM: a session still open at drain_timeout is closed, and legate exits 0', async () => {
  const port = await freePort();
  const broker = await startBroker(
    serviceYaml({ port, servers: servers([redis[0].port]), drain: 800 }),
  );
  const open = await RawClient.connect(port);
  await open.command('PING');
  const started = Date.now();
  assert.equal(await broker.legate.stop('SIGTERM'), 0);
  assert.ok(await open.waitClosed(3000), 'the session was closed');
  assert.ok(Date.now() - started >= 700, 'not before drain_timeout');
  broker.config.cleanup();
});

it('a worker that dies gives back its sessions; legate top --once shows services and servers', async () => {
  const port = await freePort();
  const broker = await startBroker(
    serviceYaml({ port, servers: `- address: 127.0.0.1:${redis[0].port}\n  name: only` }),
    {
      env: { LEGATE_TEST_HOOKS: '1' },
    },
  );
  try {
    const clients = await Promise.all(Array.from({ length: 6 }, () => RawClient.connect(port)));
    for (const c of clients) await c.command('PING');
    assert.equal((await tcpStats(broker.adminPort)).services[0].scur, 6);
    process.kill(broker.legate.child.pid ?? 0, 'SIGUSR2');
    await waitForLog(broker.legate, /"msg":"worker 0 restarted"/, 10000);
    const alive = [];
    for (const c of clients) if (!(await c.waitClosed(200))) alive.push(c);
    const stats = await tcpStats(broker.adminPort);
    assert.equal(
      stats.services[0].scur,
      alive.length,
      'sessions of the dead worker are no longer counted',
    );
    assert.equal(stats.backends[0].servers[0].scur, alive.length);
    for (const c of alive) assert.equal((await c.command('PING')).toString(), '+PONG\r\n');
    const top = await runLegate([
      'top',
      '--once',
      '--interval',
      '200',
      '--admin',
      `127.0.0.1:${broker.adminPort}`,
    ]);
    assert.equal(top.code, 0, top.stderr);
    const text = top.stdout.toString();
    assert.match(text, /SERVICE \/ SERVER\s+SESS\s+MAX\s+TOTAL/);
    assert.match(text, new RegExp(`^svc\\s+${alive.length}\\s+6\\s+6\\s`, 'm'));
    assert.match(text, /^ {2}only\s+.*\sUP\s/m);
    for (const c of alive) c.close();
  } finally {
    await broker.stop();
  }
});

it('one process, one file: a Redis pool and a broker service side by side, in /stats and /readyz', async () => {
  const [poolPort, servicePort] = [await freePort(), await freePort()];
  const yaml = `${serviceYaml({ port: servicePort, servers: servers([redis[1].port]) })}redis:\n  cache:\n    listen: 127.0.0.1:${poolPort}\n    redis: true\n    servers:\n      - 127.0.0.1:${redis[0].port}:1\n`;
  const broker = await startBroker(yaml);
  try {
    const pool = await RawClient.connect(poolPort);
    assert.equal((await pool.command('SET', 'both', 'roles')).toString(), '+OK\r\n');
    const service = await RawClient.connect(servicePort);
    assert.match(
      (await service.command('CONFIG', 'GET', 'port')).toString(),
      new RegExp(`${redis[1].port}\\r\\n$`),
    );
    const stats = await getStats(broker.adminPort);
    assert.deepEqual(
      stats.pools.map((p) => p.name),
      ['cache'],
    );
    assert.deepEqual(
      stats.tcp?.services.map((s) => s.name),
      ['svc'],
    );
    assert.equal((await httpGet(broker.adminPort, '/readyz')).status, 200);
    pool.close();
    service.close();
  } finally {
    await broker.stop();
  }
});
