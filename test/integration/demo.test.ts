// `npm start` is `legate demo`: three local shards and legate on 127.0.0.1:6379; Ctrl-C stops all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptsConnections } from '../../engine/cli/redis-process.ts';
import { run, startLegate } from '../helpers/processes.ts';

test('legate demo serves on 127.0.0.1:6379 over three shards and Ctrl-C stops them all', async (t) => {
  if (await acceptsConnections(6379)) {
    t.skip(
      'something already listens on 127.0.0.1:6379 (a redis-server service?), which the demo needs',
    );
    return;
  }
  const demo = await startLegate(['demo', '-w', '1']);
  try {
    const shardPorts = /shards on 127\.0\.0\.1:(\d+), (\d+), (\d+)/
      .exec(demo.output())
      ?.slice(1)
      .map(Number);
    assert.ok(shardPorts?.length === 3, demo.output());
    for (const p of shardPorts) assert.ok(await acceptsConnections(p), `shard ${p} up`);
    assert.match(demo.output(), /Try: {2}redis-cli -p 6379 set foo bar/);
    const cli = (...args: string[]) =>
      run('redis-cli', ['-p', '6379', ...args]).then((r) => r.stdout.toString().trim());
    assert.equal(await cli('set', 'foo', 'bar'), 'OK');
    assert.equal(await cli('get', 'foo'), 'bar');
    assert.equal(await demo.stop('SIGINT'), 0);
    assert.equal(await acceptsConnections(6379), false);
    for (const p of shardPorts)
      assert.equal(await acceptsConnections(p), false, `shard ${p} stopped`);
  } finally {
    await demo.stop('SIGKILL');
  }
});
