// Unix sockets on both sides, as twemproxy takes them: `listen: /path.sock MODE` and
// `servers: - /path.sock:weight name`. Keys spread over shards reached by path, fan-outs
// included, and the listening socket gets the mode asked for.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { sleep, waitForLog } from '../helpers/faults.ts';
import {
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startRedisServer,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

const dir = mkdtempSync(join(tmpdir(), 'legate-unix-'));
const LISTEN = join(dir, 'legate.sock');
const shardPath = (i: number): string => join(dir, `shard-${i}.sock`);

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let config: { file: string; cleanup(): void };

before(async () => {
  shards = await Promise.all(
    [0, 1].map((i) =>
      startRedisServer({ args: ['--unixsocket', shardPath(i), '--unixsocketperm', '700'] }),
    ),
  );
  config = writeConfig(
    [
      'unixpool:',
      `  listen: ${LISTEN} 0660`,
      '  redis: true',
      '  hash: fnv1a_64',
      '  distribution: ketama',
      '  servers:',
      `    - ${shardPath(0)}:1 s0`,
      `    - ${shardPath(1)}:1 s1`,
      '',
    ].join('\n'),
  );
  legate = await startLegate(['-c', config.file, '-w', '2']);
});

after(async () => {
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

it('the listening socket has the mode asked for', () => {
  const st = statSync(LISTEN);
  assert.ok(st.isSocket());
  assert.equal((st.mode & 0o777).toString(8), '660');
});

/** Keys each shard holds, asked over its own unix socket. */
async function held(): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 0; i < shards.length; i++) {
    const direct = await RawClient.connect(shardPath(i));
    counts.push(Number(await direct.call('DBSIZE')));
    direct.close();
  }
  return counts;
}

it('requests through the unix socket reach shards over their unix sockets, fan-outs included', async () => {
  const c = await RawClient.connect(LISTEN);
  try {
    const keys = Array.from({ length: 40 }, (_, i) => `unix:${i}`);
    for (const k of keys) assert.equal(await c.call('SET', k, `v-${k}`), 'OK');
    const spread = await held();
    assert.ok(
      spread.every((n) => n > 0),
      `keys on every shard: ${spread.join(', ')}`,
    );
    assert.equal(spread[0] + spread[1], 40);
    assert.deepEqual(
      await c.call('MGET', ...keys),
      keys.map((k) => Buffer.from(`v-${k}`)),
    );
    // Every other key: a DEL that spans both shards.
    const gone = keys.filter((_, i) => i % 2 === 0);
    assert.equal(await c.call('DEL', ...gone), 20);
    const left = await held();
    assert.equal(left[0] + left[1], 20);
  } finally {
    c.close();
  }
});

it('a reload that gives the socket path to a pool of another name keeps it served', async () => {
  writeFileSync(config.file, readFileSync(config.file, 'utf8').replace(/^unixpool:/m, 'renamed:'));
  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  await waitForLog(legate, /"msg":"config reloaded/, 5000, from);
  // The old pool's listener is closed once the new one listens; the path must stay.
  await sleep(500);
  assert.ok(statSync(LISTEN).isSocket(), 'the socket file is there');
  const c = await RawClient.connect(LISTEN);
  try {
    assert.equal(await c.call('SET', 'after-reload', 'v'), 'OK');
  } finally {
    c.close();
  }
});
