// The seed's terminal session, through legate with two workers over three real shards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  type Cluster,
  type RedisProcess,
  type RunningProcess,
  run,
  startCluster,
} from '../helpers/processes.ts';

let cluster: Cluster;
let shards: RedisProcess[] = [];
let legate: RunningProcess;
let port: number;

before(async () => {
  cluster = await startCluster({
    extra: { hash: 'fnv1a_64', distribution: 'ketama', auto_eject_hosts: true, timeout: 400 },
  });
  ({ shards, port, legate } = cluster);
});

after(async () => {
  await cluster?.stop();
});

async function cli(...args: string[]): Promise<string> {
  const r = await run('redis-cli', ['-h', 'localhost', '-p', String(port), ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.toString().trim();
}

test('redis-cli ping, set, get through legate', async () => {
  assert.equal(await cli('ping'), 'PONG');
  assert.equal(await cli('set', 'foo', 'bar'), 'OK');
  assert.equal(await cli('get', 'foo'), 'bar');
});

test('the key landed on exactly one shard', async () => {
  let holders = 0;
  for (const s of shards) {
    const r = await run('redis-cli', ['-p', String(s.port), 'get', 'foo']);
    if (r.stdout.toString().trim() === 'bar') holders++;
  }
  assert.equal(holders, 1);
});

test('logs say what started and where it listens', () => {
  assert.match(legate.output(), /"msg":"legate [\d.]+ started on pid \d+, 2 workers"/);
  // How many workers and why (here the command line's -w; `auto` says cgroup or cores).
  assert.match(legate.output(), /"msg":"2 workers: -w"/);
  assert.match(
    legate.output(),
    new RegExp(`"msg":"pool redis listening on 127\\.0\\.0\\.1:${port}"`),
  );
});

test('SIGTERM stops legate with exit code 0', async () => {
  assert.equal(await legate.stop('SIGTERM'), 0);
});
