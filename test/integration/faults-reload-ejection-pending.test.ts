// A shard that dies while a reload is pending: worker 1 holds the reload
// (LEGATE_TEST_HOLD_RELOAD) while worker 0, which applied it, counts the shard's failures in the
// new config's health table (its ring changed, so the table is new). Its one report of the
// failure limit must reach the new pool's ejector: lost, the shard would stay in the ring once the
// reload commits, since the limit is reported only when reached. The shard is one the reload
// adds, so its index is past the running pool's servers (that report once crashed legate).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { keysOn, ReloadHold, serverStats, until, waitForLog, workerOf } from '../helpers/faults.ts';
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

const EJECT = { auto_eject_hosts: true, server_failure_limit: 2, server_retry_timeout: 60_000 };

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let port: number;
let config: { file: string; cleanup(): void };
const hold = new ReloadHold(1);

before(async () => {
  shards = await startShards(3);
  port = await freePort();
  config = writeConfig(
    poolYaml({ name: 'a', port, shards: shards.slice(0, 2).map((s) => s.port), extra: EJECT }),
  );
  legate = await startLegate(['-c', config.file, '-w', '2'], hold.env);
});

after(async () => {
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
  hold.cleanup();
});

/** A connection to the pool that worker 0 serves. */
async function onWorker0(): Promise<RawClient> {
  for (;;) {
    const c = await RawClient.connect(port);
    if ((await workerOf(c, 2)) === 0) return c;
    c.close();
  }
}

it('a shard that reaches its failure limit while a reload is pending is ejected in the new config', async () => {
  // The new config's third shard: its index (2) is past the running config's two servers.
  const victim = shards[2];
  const name = `127.0.0.1:${victim.port}`;
  // A third shard: a new ring, so the reload gets a new health table.
  const next = poolYaml({ name: 'a', port, shards: shards.map((s) => s.port), extra: EJECT });
  hold.hold();
  writeFileSync(config.file, next);
  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  const keys = await keysOn(config.file, 'pending', 4, victim.port, 'a');
  const [onThird] = await keysOn(config.file, 'third', 1, shards[2].port, 'a');

  // Worker 0 takes the reload up at once (worker 1 holds it): it serves the new ring, where a
  // key of the third shard lands there.
  await until(
    async () => {
      const c = await onWorker0();
      await c.call('SET', onThird, 'x').finally(() => c.close());
      return (await holders([shards[2].port], onThird)).length === 1;
    },
    10_000,
    'worker 0 on the new ring',
  );
  const exited = new Promise((r) => victim.process.once('exit', r));
  victim.process.kill('SIGKILL');
  await exited;
  // Its keys fail on worker 0 until the limit (2) is reached and reported: the pending config's
  // ejector logs it (the running one's table never saw those failures). A client whose request
  // was on the dead shard's connection is closed, so each try takes a new one.
  const ejectedLine = new RegExp(`"msg":"server ${name.replace(/\./g, '\\.')} ejected from pool a`);
  for (let i = 0, end = Date.now() + 3000; Date.now() < end; i++) {
    const c = await onWorker0();
    await c.command('GET', keys[i % keys.length]).catch(() => null);
    c.close();
    if (ejectedLine.test(legate.output().slice(from))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.doesNotMatch(legate.output().slice(from), /config reloaded/, 'still pending');

  hold.release();
  await waitForLog(legate, /"msg":"config reloaded from [^"]*"/, 15_000, from);
  await until(
    async () =>
      (await serverStats(legate.adminPort ?? 0, 'a')).find((s) => s.name === name)?.ejected ===
      true,
    5000,
    `${name} ejected in the committed config:\n${legate
      .output()
      .slice(from)
      .split('\n')
      .filter((l) => /eject|fail|reload|died/.test(l))
      .join('\n')}`,
  );
});
