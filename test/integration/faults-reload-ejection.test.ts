// A reload while a server is ejected: the health table is kept (the ring's inputs did not
// change), and the new config's ejector takes over probing the ejected server, so it rejoins
// once it passes a health check, as it would have without the reload.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { serverStats, until, waitForLog } from '../helpers/faults.ts';
import { type Cluster, startCluster, startRedisServer } from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

const RETRY_MS = 500;

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({
    shards: 2,
    name: 'main',
    extra: {
      auto_eject_hosts: true,
      server_failure_limit: 1,
      server_retry_timeout: RETRY_MS,
      timeout: 1000,
    },
  });
});

after(async () => {
  await cluster?.stop();
});

async function ejected(name: string): Promise<boolean> {
  const found = (await serverStats(cluster.legate.adminPort ?? 0, 'main')).find(
    (s) => s.name === name,
  );
  assert.ok(found, name);
  return found.ejected;
}

it('a server ejected before a reload that keeps the ring is probed by the new config and rejoins', async () => {
  const { legate, port, shards } = cluster;
  const victim = shards[0];
  const name = `127.0.0.1:${victim.port}`;
  const exited = new Promise((r) => victim.process.once('exit', r));
  victim.process.kill('SIGKILL');
  await exited;
  // Requests on many keys reach the dead shard and count failures until it is ejected.
  const c = await RawClient.connect(port);
  let i = 0;
  await until(
    async () => {
      for (let n = 0; n < 20; n++) await c.command('GET', `k${i++}`);
      return ejected(name);
    },
    10_000,
    'the killed shard ejected',
  );
  c.close();

  // The same file again: the ring is kept, and so is the ejection.
  let from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  await waitForLog(legate, /"msg":"config reloaded[^"]*"/, 10_000, from);
  assert.equal(await ejected(name), true, 'still ejected after the reload');

  // The shard comes back: the next probe passes and it rejoins, within a few retry timeouts.
  from = legate.output().length;
  shards[0] = await startRedisServer({ port: victim.port });
  await waitForLog(
    legate,
    new RegExp(
      `"msg":"server ${name.replace(/\./g, '\\.')} re-admitted to pool main after a passing health check"`,
    ),
    RETRY_MS * 10,
    from,
  );
  assert.equal(await ejected(name), false);
});
