// What /stats and /metrics export after a known load through legate (two workers): counters equal
// to the requests sent, byte counts equal to the bytes on the wire, and latency percentiles that
// move when one shard is slowed with DEBUG SLEEP while the other shards' stay low.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  getStats,
  httpGet,
  parsePrometheus,
  poolOf,
  type Sample,
  type StatsJson,
  sampleValue,
  serverOf,
  waitForStats,
} from '../helpers/admin.ts';
import { keysOnDistinctShards } from '../helpers/keys.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  run,
  startLegate,
  startRedisServer,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { encode, RawClient } from '../helpers/resp.ts';

const POOL = 'alpha';
/** Per shard: SETs, then as many GETs, spread over CLIENTS connections. */
const PER_SHARD = 30;
const CLIENTS = 4;
/** MGETs of one key on each of the three shards: three fragments each. */
const MGETS = 5;
/** Rounds of DEBUG SLEEP on the slow shard, each with one GET through legate waiting on it. */
const SLOW_ROUNDS = 8;
const SLEEP_S = 0.3;
/** A round whose GET overtook the DEBUG SLEEP (a busy machine) is tried again, up to this. */
const MAX_ATTEMPTS = 3 * SLOW_ROUNDS;
/** 200 ms in microseconds: the slowed requests' floor. */
const SLOW_US = 200_000;
/**
 * Half the slowed requests' floor: a loopback round trip stays far below it even on a busy
 * two-core machine, where a first request's connect or a pause can take tens of milliseconds.
 */
const FAST_US = SLOW_US / 2;

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let config: { file: string; cleanup(): void };
let port: number;
let admin: number;
/** One key per shard, and the shard's server name. */
let keys: { key: string; server: string; value: string }[] = [];

before(async () => {
  // DEBUG is off by default since Redis 7; 'local' allows it from loopback.
  shards = await Promise.all(
    [0, 1, 2].map(() => startRedisServer({ args: ['--enable-debug-command', 'local'] })),
  );
  port = await freePort();
  config = writeConfig(poolYaml({ name: POOL, port, shards: shards.map((s) => s.port) }));
  keys = (await keysOnDistinctShards(config.file, 'obs:', 3)).map((k, i) => ({
    key: k.key,
    server: `127.0.0.1:${k.port}`,
    value: `value-${i}-${'x'.repeat(10 * (i + 1))}`,
  }));
  legate = await startLegate(['-c', config.file, '-w', '2', '-i', '200']);
  admin = legate.adminPort ?? 0;
  assert.ok(admin > 0, 'legate logged its admin port');
});

after(async () => {
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
});

/** Sends `commands` spread round-robin over `clients`, pipelined, and waits for every reply. */
async function spread(clients: RawClient[], commands: readonly string[][]): Promise<Buffer[][]> {
  const per: string[][][] = clients.map(() => []);
  commands.forEach((c, i) => {
    per[i % clients.length].push(c);
  });
  return Promise.all(
    clients.map(async (client, i) => {
      if (per[i].length === 0) return [];
      client.write(Buffer.concat(per[i].map((c) => encode(...c))));
      return client.read(per[i].length);
    }),
  );
}

const bulk = (v: string) => `$${Buffer.byteLength(v)}\r\n${v}\r\n`;

describe('a known load through two workers', () => {
  let afterLoad: StatsJson;
  let metrics: Sample[];

  test('/stats and /metrics count exactly the requests, fragments and bytes sent', async () => {
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, () => RawClient.connect(port)),
    );
    try {
      const sets = keys.flatMap((k) =>
        Array.from({ length: PER_SHARD }, () => ['SET', k.key, k.value]),
      );
      const gets = keys.flatMap((k) => Array.from({ length: PER_SHARD }, () => ['GET', k.key]));
      const mgets = Array.from({ length: MGETS }, () => ['MGET', ...keys.map((k) => k.key)]);
      for (const batch of [sets, gets, mgets]) {
        const replies = (await spread(clients, batch)).flat();
        assert.equal(replies.length, batch.length);
        for (const r of replies) assert.notEqual(r[0], 45, `no error reply: ${r}`);
      }
    } finally {
      for (const c of clients) c.close();
    }

    const requests = PER_SHARD * 2 * keys.length + MGETS;
    afterLoad = await waitForStats(
      admin,
      (s) => {
        const p = poolOf(s, POOL);
        return p.requests >= requests && p.client_connections === 0;
      },
      'the load in a snapshot',
    );
    const pool = poolOf(afterLoad, POOL);
    assert.equal(afterLoad.workers, 2);
    assert.equal(afterLoad.workers_ready, 2);
    assert.equal(pool.requests, requests, 'pool requests = requests sent');
    assert.equal(pool.latency_us.count, requests, 'one latency sample per request');
    assert.equal(pool.fragments, MGETS * keys.length, 'each MGET split in three');
    assert.equal(pool.forward_error, 0);
    assert.equal(pool.client_accepted, CLIENTS);
    assert.equal(pool.client_eof + pool.client_err, CLIENTS, 'every client counted closing');

    let serverRequests = 0;
    for (const k of keys) {
      const s = serverOf(pool, k.server);
      const expected = PER_SHARD * 2 + MGETS;
      assert.equal(s.requests, expected, `${k.server}: requests`);
      assert.equal(s.responses, expected, `${k.server}: responses`);
      assert.equal(s.latency_us.count, expected, `${k.server}: a round trip per response`);
      const requestBytes =
        PER_SHARD * encode('SET', k.key, k.value).length +
        PER_SHARD * encode('GET', k.key).length +
        MGETS * encode('MGET', k.key).length;
      assert.equal(s.request_bytes, requestBytes, `${k.server}: request bytes`);
      const responseBytes =
        PER_SHARD * '+OK\r\n'.length +
        PER_SHARD * bulk(k.value).length +
        MGETS * `*1\r\n${bulk(k.value)}`.length;
      assert.equal(s.response_bytes, responseBytes, `${k.server}: response bytes`);
      assert.equal(s.in_queue, 0);
      assert.equal(s.out_queue_bytes, 0);
      assert.equal(s.ejected, false);
      assert.ok(s.server_connections >= 1 && s.server_connections <= 2, 'one per worker at most');
      serverRequests += s.requests;
    }
    assert.equal(
      serverRequests,
      PER_SHARD * 2 * keys.length + MGETS * keys.length,
      'servers got every single-key request once and every fragment once',
    );

    const page = await httpGet(admin, '/metrics');
    assert.equal(page.status, 200);
    assert.match(page.contentType, /^text\/plain; version=0\.0\.4/);
    metrics = parsePrometheus(page.body);
    const p = { pool: POOL };
    assert.equal(sampleValue(metrics, 'legate_requests_total', p), requests);
    assert.equal(sampleValue(metrics, 'legate_fragments_total', p), MGETS * keys.length);
    assert.equal(sampleValue(metrics, 'legate_forward_errors_total', p), 0);
    assert.equal(sampleValue(metrics, 'legate_client_connections_total', p), CLIENTS);
    assert.equal(sampleValue(metrics, 'legate_request_duration_seconds_count', p), requests);
    assert.equal(
      sampleValue(metrics, 'legate_request_duration_seconds_bucket', { ...p, le: '+Inf' }),
      requests,
    );
    assert.equal(sampleValue(metrics, 'legate_workers'), 2);
    for (const k of keys) {
      const s = serverOf(pool, k.server);
      const l = { pool: POOL, server: k.server };
      assert.equal(sampleValue(metrics, 'legate_server_requests_total', l), s.requests);
      assert.equal(sampleValue(metrics, 'legate_server_responses_total', l), s.responses);
      assert.equal(sampleValue(metrics, 'legate_server_request_bytes_total', l), s.request_bytes);
      assert.equal(sampleValue(metrics, 'legate_server_response_bytes_total', l), s.response_bytes);
      assert.equal(sampleValue(metrics, 'legate_server_duration_seconds_count', l), s.responses);
      assert.equal(sampleValue(metrics, 'legate_server_ejected', l), 0);
    }
  });

  test('a shard slowed with DEBUG SLEEP moves its percentiles and the pool’s, not the others’', async () => {
    assert.ok(afterLoad, 'the counting test ran first');
    for (const k of keys) {
      const s = serverOf(poolOf(afterLoad, POOL), k.server);
      assert.ok(s.latency_us.max < SLOW_US, `${k.server} fast before: ${s.latency_us.max} µs`);
    }
    const [slow, ...fast] = keys;
    const before = poolOf(await getStats(admin), POOL).requests;

    // Traffic to the other shards keeps flowing on its own connection meanwhile.
    let stop = false;
    let fastRequests = 0;
    const fastClient = await RawClient.connect(port);
    const fastLoop = (async () => {
      while (!stop) {
        await fastClient.command('GET', fast[fastRequests % fast.length].key);
        fastRequests++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const direct = await RawClient.connect(Number(slow.server.split(':')[1]));
    const viaLegate = await RawClient.connect(port);
    // Requests through legate that waited out a sleep, and those that reached the shard first.
    let slowed = 0;
    let overtook = 0;
    try {
      for (let i = 0; slowed < SLOW_ROUNDS && i < MAX_ATTEMPTS; i++) {
        direct.write(encode('DEBUG', 'SLEEP', SLEEP_S));
        // Let the shard start sleeping before legate's request reaches it.
        await new Promise((r) => setTimeout(r, 25));
        const t0 = performance.now();
        const reply = await viaLegate.command('GET', slow.key);
        if (performance.now() - t0 >= SLOW_US / 1000) slowed++;
        else overtook++;
        assert.equal(reply.toString(), bulk(slow.value));
        assert.equal((await direct.read(1))[0].toString(), '+OK\r\n');
      }
    } finally {
      stop = true;
      await fastLoop;
      fastClient.close();
      direct.close();
      viaLegate.close();
    }
    assert.equal(
      slowed,
      SLOW_ROUNDS,
      `GETs that waited on the sleeping shard (${overtook} did not)`,
    );

    const total = before + slowed + overtook + fastRequests;
    const s = await waitForStats(
      admin,
      (x) => poolOf(x, POOL).requests >= total,
      'the slow round in a snapshot',
    );
    const pool = poolOf(s, POOL);
    assert.equal(pool.requests, total);
    // Enough slow requests that more than 1% of the pool's are slow.
    assert.ok(SLOW_ROUNDS / total > 0.01, `slow share ${SLOW_ROUNDS}/${total}`);
    assert.ok(pool.latency_us.max >= SLOW_US, `pool max ${pool.latency_us.max} µs`);
    assert.ok(pool.latency_us.p99 >= SLOW_US, `pool p99 ${pool.latency_us.p99} µs`);
    assert.ok(pool.latency_us.p50 < FAST_US, `pool p50 ${pool.latency_us.p50} µs stays low`);

    const slowServer = serverOf(pool, slow.server);
    assert.ok(slowServer.latency_us.p99 >= SLOW_US, `slow p99 ${slowServer.latency_us.p99} µs`);
    assert.ok(slowServer.latency_us.max >= SLOW_US, `slow max ${slowServer.latency_us.max} µs`);
    // Most of its round trips were not slowed: the median says so, the tail does not.
    assert.ok(slowServer.latency_us.p50 < FAST_US, `slow p50 ${slowServer.latency_us.p50} µs`);
    for (const k of fast) {
      const f = serverOf(pool, k.server);
      assert.ok(f.latency_us.p99 < FAST_US, `${k.server} p99 ${f.latency_us.p99} µs stays low`);
      assert.ok(f.latency_us.max < SLOW_US, `${k.server} max ${f.latency_us.max} µs stays low`);
    }

    // The same in Prometheus terms: quantiles in seconds, and buckets that place the slow ones.
    metrics = parsePrometheus((await httpGet(admin, '/metrics')).body);
    const p99 = sampleValue(metrics, 'legate_request_latency_seconds', {
      pool: POOL,
      quantile: '0.99',
    });
    assert.ok(p99 >= SLOW_US / 1e6, `legate_request_latency_seconds p99 ${p99}`);
    const bucket = (server: string, le: string) =>
      sampleValue(metrics, 'legate_server_duration_seconds_bucket', { pool: POOL, server, le });
    const count = (server: string) =>
      sampleValue(metrics, 'legate_server_duration_seconds_count', { pool: POOL, server });
    assert.ok(
      count(slow.server) - bucket(slow.server, '0.1') >= SLOW_ROUNDS,
      'the slowed round trips fall above the 100 ms bucket',
    );
    for (const k of fast) assert.equal(bucket(k.server, '0.1'), count(k.server));
  });

  test('recent latency: the slowed requests while recent, nothing once ten snapshots pass idle', async () => {
    const pool = poolOf(await getStats(admin), POOL);
    assert.ok(
      pool.recent_latency_us.count > 0 && pool.recent_latency_us.count <= pool.latency_us.count,
      `recent ${pool.recent_latency_us.count} of ${pool.latency_us.count}`,
    );
    assert.ok(pool.recent_latency_us.max >= SLOW_US, 'the slowed requests are recent');
    const idle = poolOf(
      await waitForStats(
        admin,
        (s) => poolOf(s, POOL).recent_latency_us.count === 0,
        'the recent window to pass with no traffic',
      ),
      POOL,
    );
    assert.equal(idle.latency_us.count, pool.latency_us.count, 'since-start numbers stay');
    for (const s of idle.servers) assert.equal(s.recent_latency_us.count, 0, s.name);
    // Ten snapshots of -i 200: the window reaches back 2 s, to the newest snapshot that old.
    assert.ok(
      idle.recent_window_s >= 1.9 && idle.recent_window_s <= 3,
      `window ${idle.recent_window_s} s`,
    );
  });
});

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;

test('promtool check metrics accepts /metrics after the load', {
  skip: promtool ? false : 'promtool is not installed (Debian package prometheus)',
}, async () => {
  const page = await httpGet(admin, '/metrics');
  assert.equal(page.status, 200);
  assert.ok(
    parsePrometheus(page.body).some((s) => s.name === 'legate_requests_total' && s.value > 0),
    'the page carries the load',
  );
  const r = await run('promtool', ['check', 'metrics'], { input: page.body });
  const said = `${r.stdout.toString()}${r.stderr}`;
  assert.equal(r.code, 0, said);
  assert.equal(said.trim(), '', 'no lint findings');
});
