// legate over three shards against one plain redis-server: the same seeded sequence of commands,
// sent as the same raw bytes to both, must get byte-identical replies, errors included.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { below, pick, prng } from '../helpers/prng.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startRedisServer,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { type Arg, encode, RawClient } from '../helpers/resp.ts';

let shards: RedisProcess[] = [];
let direct: RedisProcess;
let legate: RunningProcess;
let port: number;
let config: { file: string; cleanup(): void };

before(async () => {
  [shards, direct] = await Promise.all([startShards(3), startRedisServer()]);
  port = await freePort();
  config = writeConfig(poolYaml({ port, shards: shards.map((s) => s.port) }));
  legate = await startLegate(['-c', config.file, '-w', '2']);
});

after(async () => {
  await legate?.stop();
  await stopAll([...shards, ...(direct ? [direct] : [])]);
  config?.cleanup();
});

/**
 * A small keyspace, so that commands of every type meet on the same keys (and WRONGTYPE and
 * friends happen): some plain names, the empty key, and keys with CR LF and high bytes.
 */
const KEYS: Buffer[] = [
  ...Array.from({ length: 46 }, (_, i) => Buffer.from(`key:${i}:${(i * 2654435761) >>> 0}`)),
  Buffer.alloc(0),
  Buffer.from('crlf\r\nkey'),
  Buffer.from([0xff, 0x80, 0x00, 0x7f, 0x0d, 0x0a]),
  Buffer.from('{tag}x'),
];

/** Relative expiries far enough away that the replies of TTL do not depend on timing. */
const EX = '100000';
const PX = '100000000';

type Gen = (r: () => number) => Arg[];

/**
 * Every generator makes one command. Collections stay small (listpack and intset encodings),
 * whose reply order depends only on the commands, never on a server's hash seed; set members
 * are integers for the same reason. Nothing random on the server side (SPOP, SRANDMEMBER).
 */
function generators(): Gen[] {
  const key = (r: () => number) => pick(r, KEYS);
  const val = (r: () => number) =>
    pick(r, [
      '',
      'a',
      'hello',
      '12',
      '-7',
      '3.5',
      'x y',
      'caf\u00e9',
      '\r\n',
      '99999999999999999999',
    ]);
  const num = (r: () => number) => String(below(r, 21) - 10);
  const field = (r: () => number) => `f${below(r, 6)}`;
  const member = (r: () => number) => String(below(r, 12));
  const zmember = (r: () => number) => `m${below(r, 8)}`;
  const score = (r: () => number) => pick(r, ['1', '2.5', '-3', '0', '+inf', '-inf', '1e3', 'x']);
  return [
    // strings
    (r) => ['SET', key(r), val(r)],
    (r) => ['SET', key(r), val(r), pick(r, ['NX', 'XX', 'GET', 'KEEPTTL'])],
    (r) => ['SET', key(r), val(r), 'EX', EX],
    (r) => ['SET', key(r), val(r), 'PX', PX, 'GET'],
    (r) => ['SET', key(r), val(r), 'NX', 'XX'],
    (r) => ['GET', key(r)],
    (r) => ['get', key(r)],
    (r) => ['GETSET', key(r), val(r)],
    (r) => ['GETDEL', key(r)],
    (r) => ['GETEX', key(r), pick(r, ['PERSIST', 'EX'])].concat(r() < 0.5 ? [] : [EX]),
    (r) => ['SETNX', key(r), val(r)],
    (r) => ['SETEX', key(r), EX, val(r)],
    (r) => ['APPEND', key(r), val(r)],
    (r) => ['STRLEN', key(r)],
    (r) => ['GETRANGE', key(r), num(r), num(r)],
    (r) => ['SETRANGE', key(r), String(below(r, 5)), val(r)],
    (r) => ['INCR', key(r)],
    (r) => ['DECR', key(r)],
    (r) => ['INCRBY', key(r), pick(r, ['5', '-3', 'abc', '9223372036854775807'])],
    (r) => ['DECRBY', key(r), num(r)],
    (r) => ['INCRBYFLOAT', key(r), pick(r, ['1.5', '-0.25', '1e2', 'nan'])],
    // hashes
    (r) => ['HSET', key(r), field(r), val(r)],
    (r) => ['HSET', key(r), field(r), val(r), field(r), val(r)],
    (r) => ['HSETNX', key(r), field(r), val(r)],
    (r) => ['HGET', key(r), field(r)],
    (r) => ['HMGET', key(r), field(r), field(r)],
    (r) => ['HDEL', key(r), field(r)],
    (r) => ['HLEN', key(r)],
    (r) => ['HEXISTS', key(r), field(r)],
    (r) => ['HGETALL', key(r)],
    (r) => ['HKEYS', key(r)],
    (r) => ['HVALS', key(r)],
    (r) => ['HINCRBY', key(r), field(r), num(r)],
    (r) => ['HSTRLEN', key(r), field(r)],
    // lists
    (r) => ['LPUSH', key(r), val(r)],
    (r) => ['RPUSH', key(r), val(r), val(r)],
    (r) => ['LPUSHX', key(r), val(r)],
    (r) => ['LPOP', key(r)],
    (r) => ['RPOP', key(r), String(below(r, 3))],
    (r) => ['LRANGE', key(r), '0', '-1'],
    (r) => ['LRANGE', key(r), num(r), num(r)],
    (r) => ['LLEN', key(r)],
    (r) => ['LINDEX', key(r), num(r)],
    (r) => ['LSET', key(r), num(r), val(r)],
    (r) => ['LREM', key(r), num(r), val(r)],
    (r) => ['LTRIM', key(r), '0', String(below(r, 6))],
    (r) => ['LINSERT', key(r), pick(r, ['BEFORE', 'AFTER']), val(r), val(r)],
    (r) => ['LPOS', key(r), val(r)],
    // sets (integer members: an intset lists them in order)
    (r) => ['SADD', key(r), member(r), member(r)],
    (r) => ['SREM', key(r), member(r)],
    (r) => ['SCARD', key(r)],
    (r) => ['SISMEMBER', key(r), member(r)],
    (r) => ['SMISMEMBER', key(r), member(r), member(r)],
    (r) => ['SMEMBERS', key(r)],
    // sorted sets
    (r) => ['ZADD', key(r), score(r), zmember(r)],
    (r) => ['ZADD', key(r), pick(r, ['NX', 'XX', 'GT', 'CH']), score(r), zmember(r)],
    (r) => ['ZADD', key(r), 'INCR', score(r), zmember(r)],
    (r) => ['ZINCRBY', key(r), score(r), zmember(r)],
    (r) => ['ZSCORE', key(r), zmember(r)],
    (r) => ['ZMSCORE', key(r), zmember(r), zmember(r)],
    (r) => ['ZREM', key(r), zmember(r)],
    (r) => ['ZCARD', key(r)],
    (r) => ['ZRANK', key(r), zmember(r)],
    (r) => ['ZRANGE', key(r), '0', '-1', 'WITHSCORES'],
    (r) => ['ZREVRANGE', key(r), '0', num(r)],
    (r) => ['ZRANGEBYSCORE', key(r), '(1', '+inf'],
    (r) => ['ZCOUNT', key(r), '-inf', score(r)],
    (r) => ['ZPOPMIN', key(r)],
    // HyperLogLog
    (r) => ['PFADD', key(r), val(r), member(r)],
    (r) => ['PFADD', key(r)],
    (r) => ['PFCOUNT', key(r)],
    // expiry
    (r) => ['EXPIRE', key(r), EX],
    (r) => ['EXPIRE', key(r), EX, pick(r, ['NX', 'XX'])],
    (r) => ['PEXPIRE', key(r), PX],
    // No EXPIREAT: a TTL after an absolute expiry reads the wall clock, so the two sides differ by
    // a second whenever their replies straddle one.
    // No EXPIRETIME: after a relative EXPIRE it reads each server's clock, so the two runs
    // differ by a second whenever they straddle one.
    (r) => ['TTL', key(r)],
    (r) => ['PERSIST', key(r)],
    // keyspace, single key
    (r) => ['TYPE', key(r)],
    (r) => ['EXISTS', key(r)],
    (r) => ['DEL', key(r)],
    (r) => ['UNLINK', key(r)],
    (r) => ['TOUCH', key(r)],
    // fan-out over several shards, merged as Redis would answer
    (r) => ['MGET', key(r), key(r), key(r)],
    (r) => ['MSET', key(r), val(r), key(r), val(r)],
    (r) => ['EXISTS', key(r), key(r), key(r)],
    (r) => ['DEL', key(r), key(r)],
    (r) => ['TOUCH', key(r), key(r), key(r)],
    // errors legate answers itself must read as Redis's
    () => ['GET'],
    (r) => ['HSET', key(r), field(r)],
    (r) => ['MSET', key(r), val(r), key(r)],
    (r) => ['NOSUCHCOMMAND', key(r), val(r)],
    () => ['PING'],
    (r) => ['PING', val(r)],
    (r) => ['PING', val(r), val(r)],
    (r) => ['ECHO', val(r)],
    () => ['OBJECT'],
    (r) => ['OBJECT', 'NOSUCH', key(r)],
    (r) => ['OBJECT', 'ENCODING', key(r)],
    (r) => ['SELECT', pick(r, ['0', 'x', '-1x'])],
    (r) => ['AUTH', val(r)],
    () => ['HELLO', '1'],
    (r) => ['HELLO', pick(r, ['x', '2x'])],
  ];
}

/** The sequence, weighted towards writes early so that reads find something. */
function sequence(count: number, seed: number): Buffer[] {
  const random = prng(seed);
  const gens = generators();
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(encode(...pick(random, gens)(random)));
  return out;
}

/** Sends every request in one write and reads all the replies, as raw bytes. */
async function replies(target: number, requests: readonly Buffer[]): Promise<Buffer[]> {
  const c = await RawClient.connect(target);
  try {
    c.write(Buffer.concat(requests));
    return await c.read(requests.length, 20000);
  } finally {
    c.close();
  }
}

function show(b: Buffer): string {
  return JSON.stringify(b.toString('latin1'));
}

test('4000 generated commands: byte-identical replies from legate and from one redis-server', async () => {
  const requests = sequence(4000, 0x5eed);
  const started = Date.now();
  // Both at once, so that relative expiries are set at nearly the same moment on both sides.
  const [viaLegate, viaRedis] = await Promise.all([
    replies(port, requests),
    replies(direct.port, requests),
  ]);
  const elapsed = Date.now() - started;
  // TTL rounds to seconds: past half a second between EXPIRE and TTL, 100000 would become 99999.
  assert.ok(elapsed < 450, `the sequence ran within ${elapsed} ms`);
  let errors = 0;
  for (let i = 0; i < requests.length; i++) {
    assert.equal(
      show(viaLegate[i]),
      show(viaRedis[i]),
      `reply #${i} to ${show(requests[i])} differs`,
    );
    if (viaRedis[i][0] === 45) errors++;
  }
  // The sequence did exercise error replies, WRONGTYPE among them.
  assert.ok(errors > 200, `${errors} error replies`);
  assert.ok(viaRedis.some((r) => r.toString().startsWith('-WRONGTYPE')));
});

test('afterwards the shards hold together exactly what the single server holds', async () => {
  const dump = async (ports: readonly number[]) => {
    const found = new Map<string, string>();
    for (const p of ports) {
      const c = await RawClient.connect(p);
      for (const k of KEYS) {
        const type = (await c.command('TYPE', k)).toString();
        if (type !== '+none\r\n') {
          assert.ok(!found.has(k.toString('hex')), `key ${show(k)} on one shard only`);
          found.set(k.toString('hex'), type);
        }
      }
      c.close();
    }
    return found;
  };
  const spread = await dump(shards.map((s) => s.port));
  assert.deepEqual(spread, await dump([direct.port]));
  assert.ok(spread.size > 20, `${spread.size} keys survive`);
});

test('a second seed, sent in slices over several writes', async () => {
  // From empty keyspaces, so no expiry set by the first sequence is seconds old by now.
  for (const p of [direct.port, ...shards.map((s) => s.port)]) {
    const c = await RawClient.connect(p);
    assert.equal((await c.command('FLUSHALL')).toString(), '+OK\r\n');
    c.close();
  }
  const requests = sequence(1500, 0xfeed);
  const started = Date.now();
  const legateClient = await RawClient.connect(port);
  const redisClient = await RawClient.connect(direct.port);
  try {
    for (let i = 0; i < requests.length; i += 100) {
      const slice = Buffer.concat(requests.slice(i, i + 100));
      // Split at odd places, so requests straddle reads.
      for (let at = 0; at < slice.length; at += 997) {
        legateClient.write(slice.subarray(at, at + 997));
        redisClient.write(slice.subarray(at, at + 997));
      }
      const n = Math.min(100, requests.length - i);
      const [a, b] = await Promise.all([legateClient.read(n), redisClient.read(n)]);
      for (let j = 0; j < n; j++) {
        assert.equal(show(a[j]), show(b[j]), `reply #${i + j} to ${show(requests[i + j])}`);
      }
    }
  } finally {
    legateClient.close();
    redisClient.close();
  }
  assert.ok(Date.now() - started < 450, `the sequence ran within ${Date.now() - started} ms`);
});
