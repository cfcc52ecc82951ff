// Broker reloads that must not change what runs: one that cannot bind its new port keeps the old
// listener serving (and /stats and /config showing it), one refused for a name that does not resolve leaves the servers' shared
// state (admin state, addresses) as it was, and two SIGHUPs in a row apply the last file.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, it } from 'node:test';
import { httpGet } from '../helpers/admin.ts';
import { reachedPort, serverStats, serviceYaml, startBroker, tcpStats } from '../helpers/broker.ts';
import { TestDnsServer } from '../helpers/dns-server.ts';
import { sleep, waitForLog } from '../helpers/faults.ts';
import { freePort, type RedisProcess, startShards, stopAll } from '../helpers/processes.ts';

let redis: RedisProcess[] = [];
const dns = new TestDnsServer();

before(async () => {
  redis = await startShards(3);
  await dns.start();
});

after(async () => {
  dns.stop();
  await stopAll(redis);
});

function hup(broker: Awaited<ReturnType<typeof startBroker>>): void {
  process.kill(broker.legate.child.pid ?? 0, 'SIGHUP');
}

it('a reload to a port that is taken is refused: the old listener keeps serving', async () => {
  const [port, taken] = [await freePort(), await freePort()];
  // Held without SO_REUSEPORT: legate cannot bind it.
  const blocker = createServer(() => {});
  await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
  const servers = `- address: 127.0.0.1:${redis[0].port}`;
  const broker = await startBroker(serviceYaml({ port, servers }));
  try {
    writeFileSync(broker.config.file, serviceYaml({ port: taken, servers }));
    const from = broker.legate.output().length;
    hup(broker);
    const refused = await waitForLog(broker.legate, /\{[^\n]*cannot listen on [^\n]*/, 5000, from);
    await sleep(300);
    assert.equal(await reachedPort(port), redis[0].port, 'the old port still serves');
    assert.match(refused, /"msg":"reload refused by worker \d/);
    // What the admin endpoints describe is what the workers serve: the old port.
    const stats = await tcpStats(broker.adminPort);
    assert.deepEqual(stats.services[0].listen, [`127.0.0.1:${port}`]);
    const running = JSON.parse((await httpGet(broker.adminPort, '/config')).body) as {
      tcp: { services: { listen: { port: number }[] }[] };
    };
    assert.equal(running.tcp.services[0].listen[0].port, port);
  } finally {
    await broker.stop();
    blocker.close();
  }
});

it('a reload refused for a name that does not resolve leaves the servers as they were', async () => {
  const port = await freePort();
  const dnsKeys = `dns:\n  nameservers: [127.0.0.1:${dns.port}]\n  retries: 0\n  retry: 2s`;
  const yaml = (a: string, b: string) =>
    serviceYaml({
      port,
      keys: dnsKeys,
      servers: `- address: ${a}:${redis[0].port}\n  name: a\n- address: ${b}:${redis[1].port}\n  name: b`,
    });
  const broker = await startBroker(yaml('127.0.0.1', '127.0.0.1'), { workers: 1 });
  try {
    const post = await httpGet(broker.adminPort, '/tcp/servers/svc/a?state=maint', 'POST');
    assert.equal(post.status, 200);
    // a moves to a name that resolves, b to one that does not: the reload is refused.
    dns.records.set('a.legate.test', '127.0.0.1');
    writeFileSync(broker.config.file, yaml('a.legate.test', 'missing.legate.test'));
    const from = broker.legate.output().length;
    hup(broker);
    await waitForLog(broker.legate, /reload refused[^\n]*missing\.legate\.test/, 5000, from);
    await sleep(300);
    assert.equal((await serverStats(broker.adminPort, 'a')).status, 'MAINT');
    for (let i = 0; i < 4; i++)
      assert.equal(await reachedPort(port), redis[1].port, 'a stays in maint');
  } finally {
    await broker.stop();
  }
});

it('a SIGHUP while a reload is still resolving is applied after it: the last file wins', async () => {
  const port = await freePort();
  const dnsKeys = `dns:\n  nameservers: [127.0.0.1:${dns.port}]\n  retries: 0\n  retry: 5s`;
  const yaml = (server: string) => serviceYaml({ port, keys: dnsKeys, servers: `- ${server}` });
  const broker = await startBroker(yaml(`127.0.0.1:${redis[0].port}`), { workers: 1 });
  try {
    dns.records.set('slow.legate.test', '127.0.0.1');
    dns.delayMs = 1000;
    writeFileSync(broker.config.file, yaml(`slow.legate.test:${redis[1].port}`));
    hup(broker);
    await sleep(300);
    writeFileSync(broker.config.file, yaml(`127.0.0.1:${redis[2].port}`));
    const from = broker.legate.output().length;
    hup(broker);
    await waitForLog(broker.legate, /config reloaded/, 5000, from);
    await sleep(1500);
    assert.equal(await reachedPort(port), redis[2].port, 'the second file is the running config');
  } finally {
    dns.delayMs = 0;
    await broker.stop();
  }
});
