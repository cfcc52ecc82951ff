// A worker that does not answer a reload (held by LEGATE_TEST_HOLD_RELOAD, with the reload timeout
// shortened to 1 s by LEGATE_TEST_RELOAD_TIMEOUT_MS) neither blocks that reload nor the next one:
// after the timeout the reload is refused and rolled back, the silent worker is handed the running
// config after the refused one, and it ends on the running config once it gets to them.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { httpGet } from '../helpers/admin.ts';
import { accepts, everyWorkerServes, ReloadHold, until, waitForLog } from '../helpers/faults.ts';
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

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let config: { file: string; cleanup(): void };
const hold = new ReloadHold(1);
/** Pools a and b run at first; d comes with the refused reload, e with the next. */
let ports: { a: number; b: number; d: number; e: number };

function pool(name: 'a' | 'b' | 'd' | 'e'): string {
  return poolYaml({ name, port: ports[name], shards: [shards[0].port] });
}

before(async () => {
  shards = await startShards(1);
  ports = { a: await freePort(), b: await freePort(), d: await freePort(), e: await freePort() };
  config = writeConfig(pool('a') + pool('b'));
  legate = await startLegate(['-c', config.file, '-w', '2'], {
    ...hold.env,
    LEGATE_TEST_RELOAD_TIMEOUT_MS: '1000',
  });
});

after(async () => {
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
  hold.cleanup();
});

/** The names of the running config's pools, from /config. */
async function runningPools(): Promise<string[]> {
  const running = JSON.parse((await httpGet(legate.adminPort ?? 0, '/config')).body) as {
    redis: { name: string }[];
  };
  return running.redis.map((p) => p.name);
}

it('a worker silent past the reload timeout counts as refusing; it ends on the running config, and later reloads go on', async () => {
  // Pool b goes, pool d comes; worker 0 applies that at once, worker 1 sits on it.
  hold.hold();
  writeFileSync(config.file, pool('a') + pool('d'));
  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  await waitForLog(
    legate,
    /"msg":"worker 1 did not answer a reload within 1000 ms; taken as refusing it"/,
    10_000,
    from,
  );
  const line = await waitForLog(
    legate,
    /\{[^\n]*"msg":"reload refused, keeping[^\n]*/,
    10_000,
    from,
  );
  assert.match(line, /1 of 2 workers could not apply it/);
  assert.doesNotMatch(legate.output().slice(from), /config reloaded|reload refused by worker 0/);
  assert.deepEqual(await runningPools(), ['a', 'b']);
  // Worker 0 went back (worker 1 has not moved yet): nothing listens on pool d's port.
  assert.equal(await accepts(ports.d), false, "pool d's port is not open");

  // Worker 1 gets to the refused reload, then to the running config sent after it.
  const late = legate.output().length;
  hold.release();
  const answered = /"msg":"worker 1 answered a reload it was no longer waited for: applied"/g;
  await until(
    () => (legate.output().slice(late).match(answered) ?? []).length === 2,
    10_000,
    'worker 1 answering both reloads it was sent',
  );
  await everyWorkerServes(ports.b, 2, 10_000);
  assert.equal(await accepts(ports.d), false, "pool d's port is still not open");

  // The next reload is not held up: it commits.
  writeFileSync(config.file, pool('a') + pool('b') + pool('e'));
  const next = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  await waitForLog(legate, /"msg":"config reloaded from [^"]*"/, 10_000, next);
  await everyWorkerServes(ports.e, 2, 10_000);
  assert.deepEqual(await runningPools(), ['a', 'b', 'e']);
});
