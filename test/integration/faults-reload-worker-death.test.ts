// A worker that dies while a reload is pending, after it took the new config up: worker 1 holds
// the reload (LEGATE_TEST_HOLD_RELOAD) while worker 0, which applied it, serves a client of a new
// pool and is crashed (LEGATE_TEST_HOOKS=1 SIGUSR2) and restarted. Once the reload commits, the
// restarted worker serves the new config too, and the client it held is not counted for ever
// against the new pool's client_connections.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { everyWorkerServes, ReloadHold, until, waitForLog, workerOf } from '../helpers/faults.ts';
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
import { RawClient } from '../helpers/resp.ts';

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let config: { file: string; cleanup(): void };
const hold = new ReloadHold(1);

before(async () => {
  shards = await startShards(1);
  config = writeConfig(poolYaml({ name: 'a', port: await freePort(), shards: [shards[0].port] }));
  legate = await startLegate(['-c', config.file, '-w', '2'], {
    ...hold.env,
  });
});

after(async () => {
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
  hold.cleanup();
});

/** A PING on a new connection to `port`: PONG, or what came instead. */
async function ping(port: number): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    return String(await c.call('PING'));
  } catch (err) {
    return (err as Error).message;
  } finally {
    c.close();
  }
}

it('a worker that applied a pending reload, then died and came back, ends on the new config with nothing left counted', async () => {
  const shard = shards[0].port;
  const [d, e] = [await freePort(), await freePort()];
  // Pool d admits one client at a time; pool e is only there to see who serves the new config.
  const next =
    readFileSync(config.file, 'utf8') +
    poolYaml({ name: 'd', port: d, shards: [shard], extra: { client_connections: 1 } }) +
    poolYaml({ name: 'e', port: e, shards: [shard] });
  hold.hold();
  writeFileSync(config.file, next);
  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');

  // Only worker 0 has taken the reload up: it alone listens on d, and this client is its.
  let held: RawClient | null = null;
  await until(
    async () => {
      held = await RawClient.connect(d).catch(() => null);
      return held !== null;
    },
    10_000,
    "worker 0 listening on pool d's port",
  );
  const client = held as unknown as RawClient;
  assert.equal(String(await client.call('PING')), 'PONG');
  assert.equal(await workerOf(client, 2), 0);

  process.kill(legate.child.pid ?? 0, 'SIGUSR2');
  await waitForLog(legate, /"msg":"worker 0 died: [^"]*; restarting it"/, 5000, from);
  assert.ok(await client.waitClosed(5000), "worker 0's client went with it");
  client.close();
  await waitForLog(legate, /"msg":"worker 0 restarted"/, 10_000, from);
  assert.doesNotMatch(
    legate.output().slice(from),
    /config reloaded/,
    'the reload is still pending',
  );

  hold.release();
  await waitForLog(legate, /"msg":"config reloaded from [^"]*"/, 10_000, from);

  // The restarted worker was handed the new config: both workers accept on pool e's port.
  await everyWorkerServes(e, 2, 10_000);
  // The client worker 0 held in pool d when it died is not counted any more.
  assert.equal(await ping(d), 'PONG');
  assert.doesNotMatch(legate.output().slice(from), /reload refused/);
});
