// Worker restart: under a steady load, one worker thread dies (the LEGATE_TEST_HOOKS=1 SIGUSR2
// hook makes worker 0 throw, as a bug would); it is replaced, and the other worker's clients
// never notice.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { CheckedLoad, httpGet, sleep, waitForLog, workerOf } from '../helpers/faults.ts';
import { type Cluster, type RunningProcess, startCluster } from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

let cluster: Cluster;
let legate: RunningProcess;
let port: number;

before(async () => {
  cluster = await startCluster({ env: { LEGATE_TEST_HOOKS: '1' } });
  ({ port, legate } = cluster);
});

after(async () => {
  await cluster?.stop();
});

it('a worker that dies is restarted; the other worker’s clients see no error', async () => {
  const load = new CheckedLoad({
    port,
    clients: 16,
    depth: 8,
    prefix: 'wr',
    workers: 2,
    pauseMs: 5,
  });
  await load.start();
  const onWorker = (w: number) => load.results.filter((r) => r.worker === w);
  assert.ok(onWorker(0).length > 0 && onWorker(1).length > 0, 'clients on both workers');
  await sleep(500);
  const before = load.ok;
  assert.ok(before > 0);

  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGUSR2');
  await waitForLog(legate, /"msg":"worker 0 died: [^"]*; restarting it"/, 3000, from);
  await waitForLog(legate, /"msg":"worker 0 restarted"/, 5000, from);
  const atRestart = onWorker(1).reduce((n, r) => n + r.ok, 0);
  await sleep(1000);
  const r = await load.stop();

  // Worker 1's clients: every reply right, none missing, and they kept going throughout.
  for (const c of onWorker(1)) {
    assert.deepEqual(c.errors, []);
    assert.deepEqual(c.wrong, []);
  }
  assert.ok(onWorker(1).reduce((n, c) => n + c.ok, 0) > atRestart, 'worker 1 kept serving');
  // Worker 0's clients lost their connection with the thread, but never got a wrong reply.
  for (const c of onWorker(0)) {
    assert.deepEqual(c.wrong, []);
    assert.ok(
      c.errors.every((e) => /connection closed|timed out/.test(e)),
      c.errors.join('; '),
    );
  }
  assert.deepEqual(r.wrong, []);

  // New connections work, and land on both workers again.
  const seen = new Set<number>();
  for (let i = 0; i < 60 && seen.size < 2; i++) {
    const c = await RawClient.connect(port);
    seen.add(await workerOf(c, 2));
    assert.equal(String(await c.call('SET', `after:${i}`, i)), 'OK');
    assert.equal(String(await c.call('GET', `after:${i}`)), String(i));
    c.close();
  }
  assert.deepEqual([...seen].sort(), [0, 1], 'both workers serve new connections');
  assert.equal((await httpGet(legate.adminPort ?? 0, '/readyz')).status, 200);
  assert.equal(legate.child.exitCode, null);
});
