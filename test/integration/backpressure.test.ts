// A client paused by a limit resumes when what held it back is written, even when that write
// completes at once (no 'drain' ever comes then): a pipelined client over
// client_max_output_bytes, and one whose request put more than 4 MB toward a shard.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type Cluster, startCluster } from '../helpers/processes.ts';
import { encode, RawClient } from '../helpers/resp.ts';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({
    shards: 1,
    workers: 1,
    extra: { client_max_output_bytes: 64 * 1024 },
  });
});

after(async () => {
  await cluster?.stop();
});

it('20 pipelined GETs of 40 KB each over a 64 KB output limit all get their replies', async () => {
  const c = await RawClient.connect(cluster.port);
  try {
    const value = Buffer.alloc(40 * 1024, 0x61);
    assert.equal((await c.command('SET', 'big', value)).toString(), '+OK\r\n');
    c.write(Buffer.concat(Array.from({ length: 20 }, () => encode('GET', 'big'))));
    const replies = await c.read(20, 5000);
    const expected = Buffer.concat([
      Buffer.from(`$${value.length}\r\n`),
      value,
      Buffer.from('\r\n'),
    ]);
    for (const [i, r] of replies.entries()) assert.ok(r.equals(expected), `reply ${i}`);
  } finally {
    c.close();
  }
});

it('a 5 MB SET then a PING in one write: both answered, five times over', async () => {
  const c = await RawClient.connect(cluster.port);
  try {
    for (let i = 0; i < 5; i++) {
      c.write(
        Buffer.concat([
          encode('SET', `k${i}`, Buffer.alloc(5 * 1024 * 1024, 0x62)),
          encode('PING'),
        ]),
      );
      const [set, ping] = await c.read(2, 5000);
      assert.equal(set.toString(), '+OK\r\n', `round ${i}`);
      assert.equal(ping.toString(), '+PONG\r\n', `round ${i}`);
    }
  } finally {
    c.close();
  }
});
