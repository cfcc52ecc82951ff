// DNS re-resolution through a test DNS server on 127.0.0.1: a server whose name does not
// resolve at start waits in MAINT(resolution) (init_addr_none) and serves once it resolves;
// when the name stops resolving past hold_valid it leaves again; each change is logged.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { serverStats, serviceYaml, startBroker } from '../helpers/broker.ts';
import { TestDnsServer } from '../helpers/dns-server.ts';
import { until, waitForLog } from '../helpers/faults.ts';
import { freePort, type RedisProcess, startShards, stopAll } from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

let redis: RedisProcess[] = [];
const dns = new TestDnsServer();

before(async () => {
  redis = await startShards(1);
  await dns.start();
});

after(async () => {
  dns.stop();
  await stopAll(redis);
});

it('a name that resolves later is used then; one that stops resolving leaves after hold_valid', async () => {
  const port = await freePort();
  const broker = await startBroker(
    serviceYaml({
      port,
      keys: `dns:\n  nameservers: [127.0.0.1:${dns.port}]\n  interval: 200ms\n  hold_valid: 600ms\n  retries: 0\n  retry: 200ms`,
      servers: `- address: db.legate.test:${redis[0].port}\n  name: db\n  init_addr_none: true`,
    }),
  );
  try {
    assert.equal((await serverStats(broker.adminPort, 'db')).status, 'MAINT(resolution)');
    assert.match(broker.legate.output(), /db\.legate\.test does not resolve/);
    // No server: a session is closed at once.
    const refused = await RawClient.connect(port);
    assert.ok(await refused.waitClosed(3000));

    const from = broker.legate.output().length;
    dns.records.set('db.legate.test', '127.0.0.1');
    await waitForLog(
      broker.legate,
      /db\.legate\.test now resolves to 127\.0\.0\.1 \(was nothing\)/,
      5000,
      from,
    );
    await until(
      async () => (await serverStats(broker.adminPort, 'db')).status === 'UP',
      5000,
      'db UP',
    );
    assert.equal((await serverStats(broker.adminPort, 'db')).address, '127.0.0.1');
    const c = await RawClient.connect(port);
    assert.equal((await c.command('PING')).toString(), '+PONG\r\n');

    const from2 = broker.legate.output().length;
    dns.records.delete('db.legate.test');
    await waitForLog(
      broker.legate,
      /db\.legate\.test no longer resolves \(ENOTFOUND\) past hold_valid/,
      5000,
      from2,
    );
    assert.equal((await serverStats(broker.adminPort, 'db')).status, 'MAINT(resolution)');
    // The open session stays on the address it has.
    assert.equal((await c.command('PING')).toString(), '+PONG\r\n');
    c.close();
  } finally {
    await broker.stop();
  }
});
