// Bounded memory: a client that pipelines MGETs of large values and never reads its replies must
// not grow legate without end, nor slow down the other clients; a request over max_request_bytes
// is refused with a protocol error and its connection closed.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, it } from 'node:test';
import { CheckedLoad, percentile, rssBytes, sleep } from '../helpers/faults.ts';
import {
  type Cluster,
  type RedisProcess,
  type RunningProcess,
  startCluster,
} from '../helpers/processes.ts';
import { encode, RawClient } from '../helpers/resp.ts';

const VALUE_BYTES = 256 * 1024;
const KEYS = 16;
/** One MGET of every key: a 4 MB reply. */
const REPLY_BYTES = VALUE_BYTES * KEYS;
const OUTPUT_LIMIT = 16 * 1024 * 1024;
const MAX_REQUEST = 1024 * 1024;

let cluster: Cluster;
let shards: RedisProcess[] = [];
let legate: RunningProcess;
let port: number;

before(async () => {
  cluster = await startCluster({
    shards: 2,
    extra: { client_max_output_bytes: OUTPUT_LIMIT, max_request_bytes: MAX_REQUEST },
  });
  ({ shards, port, legate } = cluster);
});

after(async () => {
  await cluster?.stop();
});

it('a client that never reads its MGET replies leaves legate bounded and other clients fast', async () => {
  const keys = Array.from({ length: KEYS }, (_, i) => `big:${i}`);
  const setup = await RawClient.connect(port);
  for (const k of keys)
    assert.equal(await setup.call('SET', k, Buffer.alloc(VALUE_BYTES, 'v')), 'OK');
  setup.close();

  const pid = legate.child.pid ?? 0;
  const others = new CheckedLoad({
    port,
    clients: 4,
    depth: 4,
    prefix: 'mem',
    workers: 2,
    pauseMs: 5,
  });
  await others.start();
  await sleep(500);
  const baseline = rssBytes(pid);
  const shardPids = shards.map((s) => s.process.pid ?? 0);
  const shardBaseline = shardPids.map(rssBytes);

  // The greedy client: MGETs as fast as legate takes them; it never reads a byte.
  const mget = encode('MGET', ...keys);
  const greedy = connect(port, '127.0.0.1');
  greedy.on('error', () => {});
  await new Promise<void>((r) => greedy.once('connect', () => r()));
  greedy.pause();
  let sent = 0;
  let stop = false;
  const writer = (async () => {
    while (!stop) {
      // As much as the kernel takes, without piling up in this process.
      while (greedy.writableLength < 1048576) {
        greedy.write(mget);
        sent++;
      }
      await sleep(10);
    }
  })();
  let peak = baseline;
  const shardPeak = [...shardBaseline];
  const started = Date.now();
  while (Date.now() - started < 6000) {
    peak = Math.max(peak, rssBytes(pid));
    for (const [i, p] of shardPids.entries()) shardPeak[i] = Math.max(shardPeak[i], rssBytes(p));
    await sleep(100);
  }
  stop = true;
  await writer;
  const load = await others.stop();
  greedy.destroy();

  const growth = peak - baseline;
  const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;
  // The bound: legate holds for the greedy client its client_max_output_bytes (16 MB) of
  // unwritten replies plus the replies of the requests it let through before the first reply
  // told it their size: 16 (the initial window) x 4 MB, each held twice for a moment (the
  // shard's read buffer, then the merged MGET reply), about 150 MB. 300 MB leaves room for V8's
  // own heap growth. Unbounded, the ~20000 MGETs asked would be 80 GB of replies.
  assert.ok(
    growth < 300 * 1048576,
    `legate's RSS grew by ${mb(growth)} (baseline ${mb(baseline)}, peak ${mb(peak)}) while ${sent} MGETs of ${mb(REPLY_BYTES)} were asked`,
  );
  // Nor are they queued at the shards (they were: 3 GB of output buffer in redis-server).
  for (const [i, p] of shardPeak.entries()) {
    const g = p - shardBaseline[i];
    assert.ok(g < 300 * 1048576, `shard ${i}'s RSS grew by ${mb(g)}`);
  }
  assert.deepEqual(load.wrong, []);
  assert.deepEqual(load.errors, []);
  assert.ok(load.ok > 500, `${load.ok} checked replies`);
  const p99 = percentile(load.latencies, 99);
  assert.ok(p99 < 200, `other clients' p99 ${p99.toFixed(1)} ms`);
  // And legate still serves.
  const after = await RawClient.connect(port);
  assert.equal(await after.call('PING'), 'PONG');
  after.close();
});

it('a request larger than max_request_bytes gets a protocol error and its connection is closed', async () => {
  const c = await RawClient.connect(port);
  const other = await RawClient.connect(port);
  c.write(encode('SET', 'huge', Buffer.alloc(MAX_REQUEST + 1, 'x')));
  const [reply] = await c.read(1, 5000);
  assert.equal(
    reply.toString(),
    `-ERR Protocol error: request larger than max_request_bytes (${MAX_REQUEST})\r\n`,
  );
  assert.ok(await c.waitClosed(2000), 'the connection is closed');
  // Just under the limit is fine, and other connections never noticed.
  assert.equal(await other.call('SET', 'big-ok', Buffer.alloc(MAX_REQUEST - 100, 'y')), 'OK');
  assert.equal(await other.call('STRLEN', 'big-ok'), MAX_REQUEST - 100);
  other.close();
});
