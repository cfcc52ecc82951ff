// Graceful drain: on SIGTERM legate stops accepting, answers the requests in flight (here held up
// by a shard in DEBUG SLEEP), closes its clients and exits 0 — within drain_timeout, even when a
// shard would keep it waiting longer.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { accepts, keysOn, sleep, until, waitForLog } from '../helpers/faults.ts';
import {
  freePort,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startRedisServer,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { encode, RawClient } from '../helpers/resp.ts';

let shards: RedisProcess[] = [];
const configs: { cleanup(): void }[] = [];
const running: RunningProcess[] = [];

before(async () => {
  shards = await Promise.all(
    [0, 1].map(() => startRedisServer({ args: ['--enable-debug-command', 'yes'] })),
  );
});

after(async () => {
  for (const l of running) await l.stop('SIGKILL');
  await stopAll(shards);
  for (const c of configs) c.cleanup();
});

/** legate (native dialect, for drain_timeout) with two workers over both shards. */
async function start(
  drainTimeoutMs: number,
): Promise<{ legate: RunningProcess; port: number; file: string }> {
  const port = await freePort();
  const config = writeConfig(
    [
      `drain_timeout: ${drainTimeoutMs}`,
      'redis:',
      '  main:',
      `    listen: 127.0.0.1:${port}`,
      '    redis: true',
      '    servers:',
      ...shards.map((s) => `      - 127.0.0.1:${s.port}:1`),
      '',
    ].join('\n'),
  );
  configs.push(config);
  const legate = await startLegate(['-c', config.file, '-w', '2']);
  running.push(legate);
  return { legate, port, file: config.file };
}

function exited(legate: RunningProcess): Promise<number | null> {
  if (legate.child.exitCode !== null) return Promise.resolve(legate.child.exitCode);
  return new Promise((resolve) => legate.child.once('exit', (code) => resolve(code)));
}

/** Blocks shard 0 for `seconds`; `woke` resolves when it answers again. */
async function sleepShard(seconds: number): Promise<{ woke: Promise<Buffer> }> {
  const direct = await RawClient.connect(shards[0].port);
  const woke = direct.command('DEBUG', 'SLEEP', seconds).finally(() => direct.close());
  await sleep(30);
  return { woke };
}

it('SIGTERM: requests in flight get their replies, new connections are refused, exit 0', async (t) => {
  const { legate, port, file } = await start(3000);
  const slow = await keysOn(file, 'dr', 10, shards[0].port);
  const fast = await keysOn(file, 'dr', 10, shards[1].port);
  const clients = await Promise.all(Array.from({ length: 8 }, () => RawClient.connect(port)));
  const setup = clients[0];
  for (const k of [...slow, ...fast])
    assert.equal(String(await setup.call('SET', k, `v-${k}`)), 'OK');

  const { woke } = await sleepShard(0.6);
  // Each client pipelines requests to both shards; the slow shard's are held up by its sleep.
  const expected: string[] = [];
  const request: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    for (const k of [slow[i], fast[i]]) {
      request.push(encode('GET', k));
      expected.push(`$${k.length + 2}\r\nv-${k}\r\n`);
    }
  }
  const replies = clients.map((c) => {
    c.write(Buffer.concat(request));
    return c.read(expected.length, 10000);
  });
  await sleep(50);
  const sent = performance.now();
  const from = legate.output().length;
  legate.child.kill('SIGTERM');
  await waitForLog(legate, /"msg":"received SIGTERM, draining"/, 2000, from);
  // The listeners close at once: no new connection gets in while the old ones are answered.
  await until(async () => !(await accepts(port)), 3000, 'listeners closed after SIGTERM');
  for (let i = 0; i < 5; i++) assert.equal(await accepts(port), false, 'refused during the drain');

  for (const [i, r] of replies.entries()) {
    assert.deepEqual((await r).map(String), expected, `client ${i}`);
  }
  for (const c of clients) assert.ok(await c.waitClosed(3000), 'clients closed once answered');
  const code = await exited(legate);
  const took = performance.now() - sent;
  assert.equal(code, 0);
  t.diagnostic(`exited ${took.toFixed(0)} ms after SIGTERM`);
  // Once every client is answered legate is done: it does not sit out the drain_timeout.
  assert.ok(took < 3000, `exited ${took.toFixed(0)} ms after SIGTERM (drain_timeout 3000)`);
  assert.match(legate.output(), /"msg":"stopped"/);
  await woke;
});

it('SIGTERM with a shard slower than drain_timeout: legate still exits 0 within it', async (t) => {
  const { legate, port, file } = await start(800);
  const slow = await keysOn(file, 'dt', 2, shards[0].port);
  const c = await RawClient.connect(port);
  assert.equal(String(await c.call('SET', slow[0], 'x')), 'OK');
  const { woke } = await sleepShard(3);
  c.write(encode('GET', slow[0]));
  await sleep(50);
  const sent = performance.now();
  legate.child.kill('SIGTERM');
  const code = await exited(legate);
  const took = performance.now() - sent;
  assert.equal(code, 0);
  t.diagnostic(`exited ${took.toFixed(0)} ms after SIGTERM`);
  assert.ok(
    took > 700 && took < 800 + 1000,
    `exited ${took.toFixed(0)} ms after SIGTERM (drain_timeout 800)`,
  );
  // The client whose request could not be answered in time is told so, not left hanging.
  const got = await c.read(1, 2000).then(
    (r) => String(r[0]),
    () => 'closed without a reply',
  );
  assert.ok(await c.waitClosed(1000));
  await woke;
  assert.match(got, /^-ERR .*shutting down/);
});
