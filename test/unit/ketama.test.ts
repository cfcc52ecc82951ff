import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseConfig } from '../../engine/config/load.ts';
import type { RedisPoolConfig } from '../../engine/config/types.ts';
import { hashFunction } from '../../engine/hash/index.ts';
import type { Continuum, RingMember } from '../../engine/ring/continuum.ts';
import { buildKetama, ketamaPointCount } from '../../engine/ring/ketama.ts';
import { KeyLocator } from '../../engine/ring/key-locator.ts';
import { buildModula, buildRandom } from '../../engine/ring/modula.ts';
import { PoolRing } from '../../engine/ring/pool-ring.ts';
import {
  allocateRing,
  NO_SERVER,
  RingReader,
  RingWriter,
} from '../../engine/shared/ring-memory.ts';
import { prng } from '../helpers/prng.ts';

const enc = new TextEncoder();

function pool(servers: readonly string[], extra: readonly string[] = []): RedisPoolConfig {
  const text = [
    'p:',
    '  listen: 127.0.0.1:22121',
    '  redis: true',
    ...extra.map((l) => `  ${l}`),
    '  servers:',
    ...servers.map((s) => `    - ${s}`),
    '',
  ].join('\n');
  const config = parseConfig(text, 'test.yml', {});
  return config.redis[0];
}

function members(weights: readonly number[], live: (i: number) => boolean = () => true) {
  return weights.map(
    (weight, i): RingMember => ({
      name: `127.0.0.1:${6380 + i}`,
      weight,
      live: live(i),
    }),
  );
}

function reader(distribution: 'ketama' | 'modula' | 'random', c: Continuum): RingReader {
  const sab = allocateRing(distribution, Math.max(1, c.servers.length));
  new RingWriter(sab).publish(c);
  return new RingReader(sab);
}

/** Points per server in a continuum, by server index. */
function pointsPerServer(c: Continuum): Map<number, number> {
  const counts = new Map<number, number>();
  for (const s of c.servers) counts.set(s, (counts.get(s) ?? 0) + 1);
  return counts;
}

/** The server whose point is the first >= hash, wrapping: a linear scan, not a binary search. */
function bruteForce(c: Continuum, hash: number): number {
  for (let i = 0; i < c.points.length; i++) if (c.points[i] >= hash) return c.servers[i];
  return c.servers[0];
}

describe('ketama point counts (twemproxy computes them in float32)', () => {
  it('weights 3,1,1 give 288, 96, 96', () => {
    assert.deepEqual(
      [3, 1, 1].map((w) => ketamaPointCount(w, 5, 3)),
      [288, 96, 96],
    );
    const c = buildKetama(members([3, 1, 1]));
    assert.equal(c.points.length, 480);
    assert.deepEqual([...pointsPerServer(c)].sort(), [
      [0, 288],
      [1, 96],
      [2, 96],
    ]);
  });

  it('3 equal servers get 160 each, 25 get 156 each', () => {
    assert.equal(ketamaPointCount(1, 3, 3), 160);
    assert.equal(ketamaPointCount(1, 25, 25), 156);
    const c = buildKetama(members(Array(25).fill(1)));
    assert.equal(c.points.length, 25 * 156);
    for (const [, n] of pointsPerServer(c)) assert.equal(n, 156);
  });

  it('agrees with twemproxy’s C expression for 1..200 equal servers and mixed weights', () => {
    // From twemproxy's own expression compiled with gcc on x86-64 (SSE float arithmetic):
    //   float pct = (float)w / (float)total;
    //   (uint32_t)((floorf((float)(pct * 160 / 4 * (float)n + 0.0000000001))) * 4)
    // With equal weights these n give 156 points a server; every other n up to 200 gives 160.
    // In float64 every one of them would give 160: 1/n * 40 * n rounds up to 40 there.
    const short = [
      25, 47, 50, 55, 61, 71, 94, 100, 107, 109, 110, 115, 122, 142, 159, 163, 188, 193, 200,
    ];
    for (let n = 1; n <= 200; n++) {
      assert.equal(ketamaPointCount(1, n, n), short.includes(n) ? 156 : 160, `${n} servers`);
    }
    // Same C program: weights 5,3,2,1 over 4 servers.
    assert.deepEqual(
      [5, 3, 2, 1].map((w) => ketamaPointCount(w, 11, 4)),
      [288, 172, 116, 56],
    );
  });
});

describe('ketama continuum', () => {
  it('MD5("<name>-<i>") gives four little-endian points', () => {
    const digest = createHash('md5').update('127.0.0.1:6380-0').digest();
    const points = [0, 4, 8, 12].map((o) => digest.readUInt32LE(o));
    assert.deepEqual(points, [576254251, 847302296, 1749436441, 3310822703]);
    const c = buildKetama(members([1, 1, 1]));
    const own = new Set(c.points.filter((_, i) => c.servers[i] === 0));
    for (const p of points) assert.ok(own.has(p), `point ${p} belongs to 127.0.0.1:6380`);
  });

  it('points are sorted ascending', () => {
    const c = buildKetama(members([1, 2, 3, 1]));
    for (let i = 1; i < c.points.length; i++) assert.ok(c.points[i - 1] <= c.points[i]);
  });

  it('routes foo, bar, user:1 as nutcracker does (fnv1a_64, three servers)', () => {
    const p = pool(['127.0.0.1:6380:1', '127.0.0.1:6381:1', '127.0.0.1:6382:1']);
    assert.equal(p.hash, 'fnv1a_64');
    const locator = new KeyLocator(p, new RingReader(new PoolRing(p).sab));
    const where = (key: string) => {
      const b = enc.encode(key);
      return p.servers[locator.locate(b, 0, b.length)].name;
    };
    assert.equal(where('foo'), '127.0.0.1:6381');
    assert.equal(where('bar'), '127.0.0.1:6382');
    assert.equal(where('user:1'), '127.0.0.1:6382');
  });
});

describe('ring lookup: the first point >= hash, wrapping to the first', () => {
  const lookup = reader('ketama', {
    points: Uint32Array.of(100, 200, 300),
    servers: Uint16Array.of(0, 1, 2),
  });

  it('is a lower bound', () => {
    assert.equal(lookup.serverFor(0), 0);
    assert.equal(lookup.serverFor(100), 0);
    assert.equal(lookup.serverFor(101), 1);
    assert.equal(lookup.serverFor(200), 1);
    assert.equal(lookup.serverFor(300), 2);
  });

  it('wraps past the last point', () => {
    assert.equal(lookup.serverFor(301), 0);
    assert.equal(lookup.serverFor(0xffffffff), 0);
  });

  it('a shared ring answers as a linear scan does, for random hashes and every point', () => {
    const c = buildKetama(members([1, 2, 1, 3, 1]));
    const r = reader('ketama', c);
    const rnd = prng(42);
    for (let i = 0; i < 20000; i++) {
      const h = Math.floor(rnd() * 2 ** 32);
      assert.equal(r.serverFor(h), bruteForce(c, h), `hash ${h}`);
    }
    for (const p of c.points) {
      assert.equal(r.serverFor(p), bruteForce(c, p));
      assert.equal(r.serverFor((p + 1) >>> 0), bruteForce(c, (p + 1) >>> 0));
    }
  });
});

describe('modula and random', () => {
  it('modula repeats each server by its weight; index = hash % total weight', () => {
    const c = buildModula(members([2, 1, 3]));
    assert.deepEqual([...c.servers], [0, 0, 1, 2, 2, 2]);
    const r = reader('modula', c);
    for (const h of [0, 1, 2, 3, 4, 5, 6, 7, 11, 0x7fffffff, 0x80000000, 0xffffffff]) {
      assert.equal(r.serverFor(h), c.servers[h % 6], `hash ${h}`);
    }
  });

  it('a modula pool locates a key by its hash modulo the total weight', () => {
    const p = pool(
      ['127.0.0.1:6380:2', '127.0.0.1:6381:1', '127.0.0.1:6382:3'],
      ['distribution: modula'],
    );
    const locator = new KeyLocator(p, new RingReader(new PoolRing(p).sab));
    const expected = [0, 0, 1, 2, 2, 2];
    const fnv = hashFunction('fnv1a_64');
    for (const key of ['foo', 'bar', 'user:1', 'a', 'café', 'k'.repeat(100)]) {
      const b = enc.encode(key);
      assert.equal(locator.locate(b, 0, b.length), expected[fnv(b, 0, b.length) % 6], key);
    }
  });

  it('random picks only live servers, and each of them', () => {
    const c = buildRandom(members([1, 1, 1, 1], (i) => i % 2 === 0));
    assert.deepEqual([...c.servers], [0, 2]);
    const r = reader('random', c);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(r.serverFor(12345));
    assert.deepEqual([...seen].sort(), [0, 2]);
  });
});

describe('servers leaving the ring', () => {
  it('a non-live ketama member has no points; keys of the others stay put', () => {
    const all = buildKetama(members([1, 1, 1]));
    const without = buildKetama(members([1, 1, 1], (i) => i !== 1));
    assert.equal(without.points.length, 320);
    assert.ok(!without.servers.includes(1));
    const rnd = prng(7);
    for (let i = 0; i < 5000; i++) {
      const h = Math.floor(rnd() * 2 ** 32);
      const before = bruteForce(all, h);
      const after = bruteForce(without, h);
      assert.notEqual(after, 1);
      if (before !== 1) assert.equal(after, before, `hash ${h}`);
    }
  });

  it('a non-live modula member leaves the list', () => {
    assert.deepEqual([...buildModula(members([2, 1, 3], (i) => i !== 2)).servers], [0, 0, 1]);
  });

  it('a pool republished without a server never routes to it; with none live, nowhere', () => {
    const p = pool(['127.0.0.1:6380:1', '127.0.0.1:6381:1', '127.0.0.1:6382:1']);
    const ring = new PoolRing(p);
    const locator = new KeyLocator(p, new RingReader(ring.sab));
    ring.publish((i) => i !== 1);
    for (let i = 0; i < 1000; i++) {
      const b = enc.encode(`key:${i}`);
      assert.notEqual(locator.locate(b, 0, b.length), 1);
    }
    ring.publish(() => false);
    assert.equal(locator.locate(enc.encode('foo'), 0, 3), NO_SERVER);
    ring.publish(() => true);
    assert.equal(locator.locate(enc.encode('foo'), 0, 3), 1);
  });
});

describe('KeyLocator', () => {
  it('a one-server pool routes every key, even the empty one, to that server', () => {
    const p = pool(['127.0.0.1:6380:1'], ['hash: md5']);
    const locator = new KeyLocator(p, new RingReader(new PoolRing(p).sab));
    for (const key of ['', 'foo', 'bar', '{x}y', 'ключ']) {
      const b = enc.encode(key);
      assert.equal(locator.locate(b, 0, b.length), 0, key);
    }
  });

  it('hashes only the hash_tag span when there is one', () => {
    const servers = ['127.0.0.1:6380:1', '127.0.0.1:6381:1', '127.0.0.1:6382:1'];
    const p = pool(servers, ['hash_tag: "{}"']);
    const untagged = pool(servers);
    const ring = new PoolRing(p);
    const locator = new KeyLocator(p, new RingReader(ring.sab));
    const plain = new KeyLocator(untagged, new RingReader(new PoolRing(untagged).sab));
    const at = (l: KeyLocator, key: string) => {
      const b = enc.encode(key);
      return l.locate(b, 0, b.length);
    };
    const c = buildKetama(p.servers.map((s) => ({ name: s.name, weight: s.weight, live: true })));
    const fnv = hashFunction('fnv1a_64');
    const direct = (bytes: string) => {
      const b = enc.encode(bytes);
      return bruteForce(c, fnv(b, 0, b.length));
    };
    for (let i = 0; i < 200; i++) {
      const id = `user${i}`;
      assert.equal(at(locator, `{${id}}.following`), direct(id), id);
      assert.equal(at(locator, `x{${id}}y{z}`), at(plain, id), id);
    }
    // An empty tag, or none closed, hashes the whole key, as the untagged pool does.
    for (const key of ['{}user1', '{user1', 'user1}', '}user1{', 'plain']) {
      assert.equal(at(locator, key), at(plain, key), key);
    }
  });

  it('locates a key where it lies inside a larger buffer', () => {
    const p = pool(['127.0.0.1:6380:1', '127.0.0.1:6381:1', '127.0.0.1:6382:1']);
    const locator = new KeyLocator(p, new RingReader(new PoolRing(p).sab));
    for (let i = 0; i < 100; i++) {
      const key = enc.encode(`key:${i}`);
      const framed = enc.encode(`$$$key:${i}\r\n`);
      assert.equal(locator.locate(framed, 3, 3 + key.length), locator.locate(key, 0, key.length));
    }
  });
});
