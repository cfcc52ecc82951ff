// A real client library (ioredis) through legate with two workers over three shards: long mixed
// pipelines, fan-out across shards, binary and huge values, empty keys, many clients at once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { keysOnDistinctShards, locate, portOf } from '../helpers/keys.ts';
import { below, pick, prng } from '../helpers/prng.ts';
import { type Cluster, type RedisProcess, startCluster } from '../helpers/processes.ts';
import { holders } from '../helpers/resp.ts';

let cluster: Cluster;
let shards: RedisProcess[] = [];
let shardPorts: number[] = [];
let port: number;
let config: Cluster['config'];
const clients: Redis[] = [];

function client(): Redis {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, lazyConnect: true });
  clients.push(c);
  return c;
}

before(async () => {
  cluster = await startCluster();
  ({ shards, port, config } = cluster);
  shardPorts = shards.map((s) => s.port);
});

after(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.stop();
});

type Expected = { value: unknown } | { error: RegExp } | { between: [number, number] };

/**
 * A seeded sequence of mixed commands over every data type, with the reply each must get,
 * computed from a model of the keyspace.
 */
function mixedCommands(
  count: number,
): { name: string; args: (string | number)[]; expect: Expected }[] {
  const random = prng(20240611);
  const strings = new Map<string, string>();
  const expiring = new Set<string>();
  const counters = new Map<string, number>();
  const hashes = new Map<string, Map<string, string>>();
  const lists = new Map<string, string[]>();
  const sets = new Map<string, Set<string>>();
  const zsets = new Map<string, Map<string, number>>();
  const models: Map<string, unknown>[] = [strings, counters, hashes, lists, sets, zsets];
  // A long varying tail: twemproxy's fnv1a_64 barely moves keys differing in a last digit.
  const key = (type: string) => {
    const n = below(random, 24);
    return `io:${type}:${n}.${Math.imul(n + 1, 2654435761) >>> 0}`;
  };
  const exists = (k: string) => models.some((m) => m.has(k));
  const out: { name: string; args: (string | number)[]; expect: Expected }[] = [];
  const add = (name: string, args: (string | number)[], expect: Expected) =>
    out.push({ name, args, expect });

  while (out.length < count) {
    const v = `v${below(random, 1000)}`;
    switch (below(random, 16)) {
      case 0: {
        const k = key('str');
        strings.set(k, v);
        expiring.delete(k);
        add('set', [k, v], { value: 'OK' });
        break;
      }
      case 1: {
        const k = key('str');
        add('get', [k], { value: strings.get(k) ?? null });
        break;
      }
      case 2: {
        const k = key('ctr');
        const n = (counters.get(k) ?? 0) + 1;
        counters.set(k, n);
        add('incr', [k], { value: n });
        break;
      }
      case 3: {
        const k = key('hash');
        const f = `f${below(random, 5)}`;
        const h = hashes.get(k) ?? new Map<string, string>();
        const fresh = !h.has(f);
        h.set(f, v);
        hashes.set(k, h);
        add('hset', [k, f, v], { value: fresh ? 1 : 0 });
        break;
      }
      case 4: {
        const k = key('hash');
        const f = `f${below(random, 5)}`;
        add('hget', [k, f], { value: hashes.get(k)?.get(f) ?? null });
        break;
      }
      case 5: {
        const k = key('list');
        const l = lists.get(k) ?? [];
        l.unshift(v);
        lists.set(k, l);
        add('lpush', [k, v], { value: l.length });
        break;
      }
      case 6: {
        const k = key('list');
        add('lrange', [k, 0, -1], { value: [...(lists.get(k) ?? [])] });
        break;
      }
      case 7: {
        const k = key('set');
        const m = `m${below(random, 8)}`;
        const s = sets.get(k) ?? new Set<string>();
        const fresh = !s.has(m);
        s.add(m);
        sets.set(k, s);
        add('sadd', [k, m], { value: fresh ? 1 : 0 });
        break;
      }
      case 8: {
        const k = key('set');
        add('scard', [k], { value: sets.get(k)?.size ?? 0 });
        break;
      }
      case 9: {
        const k = key('zset');
        const m = `m${below(random, 8)}`;
        const score = below(random, 100);
        const z = zsets.get(k) ?? new Map<string, number>();
        const fresh = !z.has(m);
        z.set(m, score);
        zsets.set(k, z);
        add('zadd', [k, score, m], { value: fresh ? 1 : 0 });
        break;
      }
      case 10: {
        const k = key('zset');
        const m = `m${below(random, 8)}`;
        const score = zsets.get(k)?.get(m);
        add('zscore', [k, m], { value: score === undefined ? null : String(score) });
        break;
      }
      case 11: {
        const k = key('str');
        const had = strings.has(k);
        if (had) expiring.add(k);
        add('expire', [k, 100000], { value: had ? 1 : 0 });
        break;
      }
      case 12: {
        const k = key('str');
        // TTL rounds the time left to seconds: 100000 until half a second has passed, then 99999.
        if (strings.has(k) && expiring.has(k)) add('ttl', [k], { between: [99999, 100000] });
        else add('ttl', [k], { value: strings.has(k) ? -1 : -2 });
        break;
      }
      case 13: {
        const k = key(pick(random, ['str', 'ctr', 'hash', 'list', 'set', 'zset']));
        const had = exists(k);
        for (const m of models) m.delete(k);
        expiring.delete(k);
        add('del', [k], { value: had ? 1 : 0 });
        break;
      }
      case 14: {
        // A type error must come back in its place, like any reply.
        const k = key('list');
        if (lists.has(k)) add('get', [k], { error: /^WRONGTYPE / });
        else add('get', [k], { value: null });
        break;
      }
      default: {
        const k = key('hash');
        add('hlen', [k], { value: hashes.get(k)?.size ?? 0 });
        break;
      }
    }
  }
  return out;
}

test('a pipeline of 1000 mixed commands comes back in order with the right values', async () => {
  const r = client();
  await r.connect();
  const commands = mixedCommands(1000);
  const pipeline = r.pipeline();
  for (const c of commands) pipeline.call(c.name, c.args);
  const results: [Error | null, unknown][] = (await pipeline.exec()) ?? [];
  assert.equal(results.length, commands.length);
  for (let i = 0; i < commands.length; i++) {
    const [err, value]: [Error | null, unknown] = results[i];
    const { name, args, expect } = commands[i];
    const what = `#${i} ${name} ${args.join(' ')}`;
    if ('error' in expect) {
      assert.ok(err, `${what}: expected an error, got ${JSON.stringify(value)}`);
      assert.match(err.message, expect.error, what);
    } else if ('between' in expect) {
      assert.equal(err, null, `${what}: ${err?.message}`);
      assert.ok(
        typeof value === 'number' && value >= expect.between[0] && value <= expect.between[1],
        `${what}: ${value}`,
      );
    } else {
      assert.equal(err, null, `${what}: ${err?.message}`);
      assert.deepEqual(value, expect.value, what);
    }
  }
  // The keys really were spread: every shard holds some of them.
  const where = await locate(
    config.file,
    commands.map((c) => String(c.args[0])),
  );
  assert.equal(new Set(where.values()).size, 3);
});

test('MSET, MGET, EXISTS, TOUCH, DEL, UNLINK with keys on three different shards', async () => {
  const r = client();
  const [a, b, c] = await keysOnDistinctShards(config.file, 'io:cross:', 3);
  assert.equal(new Set([a.port, b.port, c.port]).size, 3);
  assert.equal(await r.mset(a.key, 'A', b.key, 'B', c.key, 'C'), 'OK');
  // Each key is on the shard `legate locate` named, and only there.
  for (const k of [a, b, c]) assert.deepEqual(await holders(shardPorts, k.key), [k.port]);
  assert.deepEqual(await r.mget(c.key, 'io:cross:missing', a.key, b.key, c.key, a.key), [
    'C',
    null,
    'A',
    'B',
    'C',
    'A',
  ]);
  assert.equal(await r.exists(a.key, b.key, c.key, a.key, 'io:cross:missing'), 4);
  assert.equal(await r.touch(a.key, b.key, c.key, 'io:cross:missing'), 3);
  assert.equal(await r.del(a.key, b.key, 'io:cross:missing'), 2);
  assert.equal(await r.unlink(a.key, b.key, c.key), 1);
  assert.equal(await r.exists(a.key, b.key, c.key), 0);
  for (const k of [a, b, c]) assert.deepEqual(await holders(shardPorts, k.key), []);
});

test('MSET and MGET of 300 keys in shuffled order keep every value with its key', async () => {
  const r = client();
  const random = prng(7);
  const keys = Array.from({ length: 300 }, (_, i) => `io:many:${i}`);
  const args: string[] = [];
  for (const k of keys) args.push(k, `value-of-${k}`);
  assert.equal(await r.mset(...args), 'OK');
  const order = keys.map((k) => ({ k, r: random() })).sort((x, y) => x.r - y.r);
  const asked = order.map((o) => o.k);
  asked.splice(150, 0, 'io:many:absent');
  const values = await r.mget(...asked);
  assert.deepEqual(
    values,
    asked.map((k) => (k === 'io:many:absent' ? null : `value-of-${k}`)),
  );
  assert.equal(await r.del(...keys), 300);
});

test('binary values and keys: CR LF inside, and all 256 byte values', async () => {
  const r = client();
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const value = Buffer.concat([Buffer.from('\r\n*1\r\n$3\r\nfoo\r\n'), all, Buffer.from('\r\n')]);
  const key = Buffer.concat([Buffer.from('io:bin:\r\n'), all]);
  assert.equal(await r.set(key, value), 'OK');
  assert.deepEqual(await r.getBuffer(key), value);
  assert.equal((await holders(shardPorts, key)).length, 1);
  assert.equal(await r.hset('io:bin:hash', all, value), 1);
  assert.deepEqual(await r.hgetBuffer('io:bin:hash', all), value);
  // Through a fan-out, which re-encodes the request and re-joins the replies.
  const [a, b, c] = await keysOnDistinctShards(config.file, 'io:bin:x', 3);
  const values = [value, all, Buffer.from('\r\n')];
  assert.equal(await r.mset(a.key, values[0], b.key, values[1], c.key, values[2]), 'OK');
  assert.deepEqual(await r.mgetBuffer(a.key, b.key, c.key, key), [...values, value]);
});

test('a 10 MB value is stored and read back intact, also among pipelined neighbours', async () => {
  const r = client();
  const big = randomBytes(10 * 1024 * 1024);
  assert.equal(await r.set('io:big', big), 'OK');
  const back = await r.getBuffer('io:big');
  assert.ok(back?.equals(big), 'the 10 MB value came back unchanged');
  assert.equal(await r.strlen('io:big'), big.length);
  const p = r.pipeline();
  p.set('io:before', '1');
  p.getBuffer('io:big');
  p.incr('io:after');
  p.set('io:big2', big);
  const results = await p.exec();
  assert.ok(results);
  assert.deepEqual(results[0], [null, 'OK']);
  assert.ok((results[1][1] as Buffer).equals(big));
  assert.deepEqual(results[2], [null, 1]);
  assert.deepEqual(results[3], [null, 'OK']);
  assert.ok((await r.getBuffer('io:big2'))?.equals(big));
  // Two 5 MB halves on two shards, split and merged by the fan-out.
  const [a, b] = await keysOnDistinctShards(config.file, 'io:half', 2);
  const h1 = big.subarray(0, big.length / 2);
  const h2 = big.subarray(big.length / 2);
  assert.equal(await r.mset(a.key, h1, b.key, h2), 'OK');
  const [g1, g2] = await r.mgetBuffer(a.key, b.key);
  assert.ok(g1?.equals(h1) && g2?.equals(h2), 'both halves came back unchanged');
  assert.equal(await r.del('io:big', 'io:big2', a.key, b.key), 4);
});

test('empty values, an empty key, an empty hash field', async () => {
  const r = client();
  assert.equal(await r.set('', 'under the empty key'), 'OK');
  assert.equal(await r.get(''), 'under the empty key');
  assert.equal(await r.set('io:empty', ''), 'OK');
  assert.equal(await r.get('io:empty'), '');
  assert.equal(await r.strlen('io:empty'), 0);
  assert.equal(await r.hset('io:empty:hash', '', ''), 1);
  assert.deepEqual(await r.hgetall('io:empty:hash'), { '': '' });
  assert.equal(await r.rpush('io:empty:list', '', 'x', ''), 3);
  assert.deepEqual(await r.lrange('io:empty:list', 0, -1), ['', 'x', '']);
  assert.deepEqual(await r.mget('', 'io:empty', 'io:empty:none'), [
    'under the empty key',
    '',
    null,
  ]);
  assert.equal(await r.exists('', 'io:empty'), 2);
  // An empty key hashes to 0 (twemproxy): it lives on the shard that owns the ring's start.
  const where = await locate(config.file, ['']);
  assert.deepEqual(await holders(shardPorts, ''), [portOf(where.get('')!)]);
  assert.equal(await r.del('', 'io:empty', 'io:empty:hash', 'io:empty:list'), 4);
});

test('20 concurrent clients, each pipelining, every reply checked', async () => {
  const perClient = 150;
  const results = await Promise.all(
    Array.from({ length: 20 }, async (_, c) => {
      const r = client();
      await r.connect();
      const p = r.pipeline();
      for (let i = 0; i < perClient; i++) {
        p.set(`io:c${c}:k${i}`, `c${c}-v${i}`);
        p.incrby(`io:c${c}:n${i % 10}`, i);
        p.get(`io:c${c}:k${i}`);
        p.mget(`io:c${c}:k${i}`, `io:c${c}:k${(i * 7) % perClient}`);
      }
      const replies: [Error | null, unknown][] = (await p.exec()) ?? [];
      return { c, results: replies };
    }),
  );
  for (const { c, results: res } of results) {
    assert.equal(res.length, perClient * 4);
    const sums = new Array<number>(10).fill(0);
    for (let i = 0; i < perClient; i++) {
      sums[i % 10] += i;
      const [set, incr, get, mget]: [Error | null, unknown][] = res.slice(i * 4, i * 4 + 4);
      assert.deepEqual(set, [null, 'OK']);
      assert.deepEqual(incr, [null, sums[i % 10]]);
      assert.deepEqual(get, [null, `c${c}-v${i}`]);
      const other = (i * 7) % perClient;
      assert.deepEqual(mget, [null, [`c${c}-v${i}`, other <= i ? `c${c}-v${other}` : null]]);
    }
  }
});
