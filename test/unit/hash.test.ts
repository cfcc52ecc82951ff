import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashKey } from '../../engine/hash/hash-tag.ts';
import { HASH_FUNCTIONS, hashFunction } from '../../engine/hash/index.ts';
import { md5Digest } from '../../engine/hash/md5.ts';
import { HASH_NAMES, type HashFn, type HashName } from '../../engine/hash/types.ts';

const enc = new TextEncoder();

/** 200 bytes of (37i + 11) mod 256: mixes ASCII and bytes >= 0x80; prefixes cover every tail. */
const PATTERN = Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff);

/** Lengths of PATTERN prefixes: every jenkins tail (1..12, 13), murmur/hsieh tail (0..3), and md5
 * padding into one or two blocks, across the 64-byte block boundary, plus multi-block keys. */
const PREFIX_LENGTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 55, 56, 63, 64, 65, 100, 200];

const KEYS: readonly Uint8Array[] = [
  new Uint8Array(0),
  enc.encode('a'),
  enc.encode('foo'),
  enc.encode('bar'),
  enc.encode('user:1'),
  Uint8Array.of(0x61, 0x62, 0xff), // a 3-byte tail whose last byte hsieh sign-extends
  enc.encode('café'),
  Uint8Array.of(0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86),
  enc.encode('{user1000}.following'),
  enc.encode('user1000'),
  ...PREFIX_LENGTHS.map((n) => PATTERN.subarray(0, n)),
];

/*
 * Expected values, one per KEYS entry, produced by nutcracker 0.5.0 itself rather than by this
 * code: a C harness (kept out of the repo) dlopen()ed a copy of Debian's /usr/sbin/nutcracker
 * 0.5.0 with the DF_1_PIE flag cleared, called its exported hash_<name>(key, len) symbols on
 * each key (at eight different buffer alignments, which agreed), and printed the results. The
 * same harness agreed with these modules on 2,506 random keys of 0..5,000 bytes.
 */
const VECTORS: Readonly<Record<HashName, readonly number[]>> = {
  one_at_a_time: [
    0x00000000, 0xca2e9442, 0x238678dd, 0x80409109, 0xa556ff4b, 0x0603d118, 0xd99c709e, 0x80b16c84,
    0x601d07b4, 0x60b69ab4, 0xc95212a1, 0x90b214f2, 0xe4a65ce1, 0x52904bb6, 0xe5536bf8, 0xf8ec824b,
    0xc381374e, 0x349397a2, 0x39d99480, 0x236739cd, 0xe60dfc91, 0x9668f9d4, 0x6fee1faf, 0x283aec51,
    0x0bb4c8d6, 0xe41941e2, 0xc9e38cb2, 0xdabcb36a, 0xeb025ab4, 0x7e723e75,
  ],
  md5: [
    0xd98c1dd4, 0xb975c10c, 0xdb18bdac, 0x191db537, 0x10ddb1bd, 0x82abbd74, 0xe47f1107, 0xd2c3bf1c,
    0x73813d21, 0xfcb2d3e1, 0xd9ffc813, 0xed6426a2, 0xc5166d87, 0x3fecaf8f, 0xa9810dab, 0x38ac432c,
    0x4d110fb3, 0xf2868a2b, 0x65edc295, 0x02bed699, 0xb397e72d, 0x8b6cd390, 0x9125b772, 0x04aa72d8,
    0x646735e2, 0x62b67547, 0xb723e171, 0x8f944959, 0xd4579c5b, 0xd84c91f9,
  ],
  crc16: [
    0x00000000, 0x00007c87, 0x0c3caf96, 0x4c1193c5, 0xd56e6a1a, 0x7c74dfe3, 0xf6269667, 0x4318e877,
    0xb3926fba, 0xa6224d73, 0x0000b16b, 0x00b1eaa9, 0xb1eaff34, 0xeafff52d, 0xfff5e0ec, 0xf5e088e6,
    0xe0889a87, 0x889a443d, 0x9a443370, 0x4433adcd, 0x33ad067d, 0xad06886e, 0x0688d72b, 0x877895cb,
    0x789516cd, 0x3e969f5e, 0x969f68f2, 0x9f68e601, 0x7bf45e24, 0x79b5b2fc,
  ],
  crc32: [
    0x00000000, 0x000068b7, 0x00000c73, 0x000076ff, 0x00007ba5, 0x00004c9d, 0x000018ad, 0x0000504f,
    0x0000760c, 0x0000125a, 0x000045d0, 0x000004f4, 0x00003753, 0x00002532, 0x00001ece, 0x00003541,
    0x00006f6f, 0x0000648b, 0x000017dc, 0x00002012, 0x00000919, 0x00007a6c, 0x00007ec4, 0x000066c5,
    0x00001a33, 0x00003ae6, 0x00007fba, 0x00004a2f, 0x00007d11, 0x00007e79,
  ],
  crc32a: [
    0x00000000, 0xe8b7be43, 0x8c736521, 0x76ff8caa, 0x7ba5c282, 0xcc9d9ead, 0x98ad42b5, 0x504ff191,
    0x760c43ef, 0x125adb66, 0x45d03605, 0x84f4fb98, 0x3753a57b, 0xa5328cbe, 0x9ececd5f, 0xb5416b8c,
    0xef6f3b31, 0x648bad8b, 0x17dc5f9e, 0xa0125457, 0x0919340f, 0x7a6c29ec, 0x7ec47ae4, 0xe6c5dacc,
    0x1a337bd7, 0xbae609d9, 0xffbae609, 0x4a2f75d7, 0x7d11b4c9, 0xfe79c9f4,
  ],
  fnv1_64: [
    0x84222325, 0x8601b7be, 0x6ba13533, 0x6bad3880, 0xc93cea93, 0x94505257, 0x8a06fef1, 0x2b0acd66,
    0xb60ca1a8, 0x36f5768f, 0x8601b7d4, 0xb4eb5d0c, 0x6bef1b31, 0x674b3439, 0x7b364344, 0xa2cbb348,
    0x5fde5cb1, 0xe6d780cd, 0x402fdc64, 0x11537db4, 0x70de98a1, 0x35c2a631, 0xa63f9a84, 0x38f3aab1,
    0x39f4f53d, 0x3c5cf631, 0x91f65565, 0x05931ad4, 0xcde1b799, 0x84304e8d,
  ],
  fnv1a_64: [
    0x84222325, 0x8601ec8c, 0xfed9d577, 0x1339461a, 0x75081ceb, 0xfabe022f, 0xcef6bb89, 0xe829a288,
    0x31c09a76, 0x75a40763, 0x8601c72a, 0xb505512e, 0x98097401, 0x5810ed01, 0x5b3ca27a, 0xf7f849da,
    0xa51a98a9, 0x8c3163c5, 0x37ecdb02, 0x0778b9ee, 0xb22354c9, 0x4df746d1, 0x84d28062, 0x7e6e8369,
    0x2a36b495, 0x6e1b7a21, 0x18b059e5, 0xf3a862aa, 0xc9e0e0a1, 0xd355e505,
  ],
  fnv1_32: [
    0x811c9dc5, 0x050c5d7e, 0x408f5e13, 0x1e99b620, 0x00cc85b3, 0xbc63d0d7, 0xd682f171, 0x38521786,
    0xf8a53b08, 0x0b4caa0f, 0x050c5d14, 0x0676864c, 0x789569f1, 0xc435c619, 0x065926c4, 0x3da7f948,
    0xa89293b1, 0x0fbe7fad, 0x75e2fd64, 0xf854e434, 0x21a33da1, 0x6b05fbd1, 0xb49495c4, 0xf64c88f1,
    0x54846c9d, 0xc3a347b1, 0xab09db85, 0xc5849214, 0x45dbf7b9, 0x799f30ed,
  ],
  fnv1a_32: [
    0x811c9dc5, 0xe40c292c, 0xa9f37ed7, 0x76b77d1a, 0x6d1a4acb, 0xc3b7e16f, 0x7572c049, 0xa601c608,
    0x25e77276, 0x456b4ee3, 0x0e0c6b4a, 0x978d310e, 0xee44b241, 0x512492e1, 0xc16d5d5a, 0x1ed5feba,
    0xc82015a9, 0xb18215e5, 0x45c85fe2, 0x946eb1ce, 0x5d41bcc9, 0x9c842171, 0x51ff9882, 0x4d1fcd29,
    0x6df00875, 0xd3f18121, 0xac2e1e05, 0x5a99b4ca, 0x7e083f01, 0xcfec8925,
  ],
  hsieh: [
    0x00000000, 0x93642e87, 0x76d4d427, 0x82f73143, 0xe7bf1826, 0x75dc9fd6, 0xde3f8855, 0xf318431d,
    0x01de784b, 0x854443f4, 0xefd4c853, 0xde88a2cc, 0x79e27406, 0x9280c7a5, 0x882a5488, 0x3300195f,
    0xa3208c2a, 0xc514a4b6, 0x1d7424f9, 0xfbe8f167, 0x3ebf0099, 0x8a7ec081, 0xd5fddb3c, 0x17762725,
    0x51815693, 0x1dbd732d, 0xaec16fa1, 0x492e9be0, 0x8c005234, 0x6d081b29,
  ],
  murmur: [
    0x00000000, 0x4b41757c, 0xc4e0338f, 0x1ecb8583, 0xd5d0b563, 0xec9082b2, 0xda11981f, 0x7eec4209,
    0xa6e2c735, 0xf5a2ddf1, 0xb91dc4c0, 0xd8c67263, 0x1e94640c, 0xeec04e30, 0x13e74540, 0x862a109a,
    0xd40f7b0d, 0xe4209098, 0xa5859313, 0xad5c241c, 0x49e9cad3, 0x10b2c265, 0x56e4ceed, 0x9d50b0f8,
    0x0efc257f, 0x6a3bcf5b, 0x1a66abfc, 0x3689437c, 0x63014e18, 0xeeb9e576,
  ],
  jenkins: [
    0xdeadbefc, 0xe0a38690, 0x99f84f99, 0x779604bb, 0x37cd5fd1, 0xe9af676b, 0xcb6225ad, 0x9e174099,
    0xa8ff9d55, 0x676e6569, 0x503b28cd, 0x7954b6be, 0xa10c6fd6, 0xb8f0d941, 0x6183d453, 0x9c7ee068,
    0x5c692b88, 0x98c527ff, 0x08ad6385, 0x8b34d7b3, 0x5f54b89a, 0xf1cd8424, 0x974e387f, 0x1a7dd261,
    0xe9658e9e, 0x9c6eb2df, 0xbeceb58f, 0xf44c96b0, 0xbc658ed1, 0xd89fcde5,
  ],
};

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Copies `key` into a larger buffer between junk bytes, returning the buffer and the key's range. */
function embed(key: Uint8Array, before = 5, after = 3): [Uint8Array, number, number] {
  const buf = new Uint8Array(before + key.length + after).fill(0xa5);
  buf.set(key, before);
  return [buf, before, before + key.length];
}

describe('hash functions match nutcracker 0.5.0', () => {
  for (const name of HASH_NAMES) {
    it(name, () => {
      const fn = hashFunction(name);
      assert.equal(fn, HASH_FUNCTIONS[name]);
      assert.equal(VECTORS[name].length, KEYS.length);
      KEYS.forEach((key, i) => {
        assert.equal(fn(key, 0, key.length), VECTORS[name][i], `${name}(${hex(key)})`);
      });
    });
  }

  it('HASH_FUNCTIONS has exactly the twelve names', () => {
    assert.deepEqual(Object.keys(HASH_FUNCTIONS).sort(), [...HASH_NAMES].sort());
    assert.ok(Object.isFrozen(HASH_FUNCTIONS));
  });

  it('hashing a range inside a larger buffer equals hashing a copy', () => {
    for (const name of HASH_NAMES) {
      const fn = HASH_FUNCTIONS[name];
      for (const key of KEYS) {
        for (const before of [0, 1, 2, 3, 7]) {
          const [buf, start, end] = embed(key, before);
          assert.equal(fn(buf, start, end), fn(key.slice(), 0, key.length), `${name} @${before}`);
        }
      }
    }
  });

  it('results are unsigned 32-bit integers', () => {
    for (const name of HASH_NAMES) {
      for (const key of KEYS) {
        const h = HASH_FUNCTIONS[name](key, 0, key.length);
        assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff, `${name} -> ${h}`);
      }
    }
  });

  it('crc32 stays within 15 bits', () => {
    for (const key of KEYS) assert.ok(HASH_FUNCTIONS.crc32(key, 0, key.length) <= 0x7fff);
  });
});

describe('md5Digest', () => {
  it('agrees with node:crypto across padding boundaries', () => {
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 200]) {
      const bytes = PATTERN.subarray(0, n);
      const want = createHash('md5').update(bytes).digest();
      assert.equal(hex(md5Digest(bytes)), want.toString('hex'), `length ${n}`);
    }
  });

  it('returns a fresh 16-byte array', () => {
    const a = md5Digest(enc.encode('x'));
    const b = md5Digest(enc.encode('x'));
    assert.equal(a.length, 16);
    assert.notEqual(a, b);
    assert.deepEqual(a, b);
  });

  it('md5 hash is the digest read as a little-endian uint32', () => {
    const d = md5Digest(enc.encode('foo'));
    const le = (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0;
    assert.equal(HASH_FUNCTIONS.md5(enc.encode('foo'), 0, 3), le);
  });
});

describe('hashKey', () => {
  const OPEN = 0x7b; // {
  const CLOSE = 0x7d; // }

  /** A HashFn that records the range it was given, to check which bytes hashKey picked. */
  function spy(): { fn: HashFn; ranges: [number, number][] } {
    const ranges: [number, number][] = [];
    return {
      ranges,
      fn: (_buf, start, end) => {
        ranges.push([start, end]);
        return 42;
      },
    };
  }

  function keyHash(fn: HashFn, key: string, open = OPEN, close = CLOSE): number {
    const bytes = enc.encode(key);
    return hashKey(fn, bytes, 0, bytes.length, open, close);
  }

  function plain(fn: HashFn, key: string): number {
    const bytes = enc.encode(key);
    return fn(bytes, 0, bytes.length);
  }

  it('hashes only the tagged span', () => {
    for (const name of HASH_NAMES) {
      const fn = HASH_FUNCTIONS[name];
      assert.equal(keyHash(fn, '{user1000}.following'), plain(fn, 'user1000'), name);
      assert.equal(keyHash(fn, '{user1000}.followers'), plain(fn, 'user1000'), name);
    }
    const idx = KEYS.findIndex((k) => hex(k) === hex(enc.encode('user1000')));
    assert.equal(keyHash(HASH_FUNCTIONS.fnv1a_64, '{user1000}.following'), VECTORS.fnv1a_64[idx]);
  });

  it('hashes the whole key when the tag is empty or unclosed', () => {
    const fn = HASH_FUNCTIONS.fnv1a_64;
    for (const key of ['{}x', 'x{', '{', '}', 'x}y{', 'abc', '{}{x}']) {
      assert.equal(keyHash(fn, key), plain(fn, key), key);
    }
  });

  it('uses the first open byte and the first close byte after it', () => {
    const s = spy();
    keyHash(s.fn, 'object:type:{tag}:{other}');
    keyHash(s.fn, 'x}{y}'); // a close before the open is ignored
    keyHash(s.fn, '{{}}'); // the span is `{`
    keyHash(s.fn, 'ab{cd'); // unclosed: whole key
    assert.deepEqual(s.ranges, [
      [13, 16],
      [3, 4],
      [1, 2],
      [0, 5],
    ]);
  });

  it('finds a tag late in the key, in a range inside a larger buffer', () => {
    const fn = HASH_FUNCTIONS.murmur;
    const [buf, start, end] = embed(
      enc.encode('a-rather-long-key-prefix-0123456789:{shard7}'),
      9,
      4,
    );
    assert.equal(hashKey(fn, buf, start, end, OPEN, CLOSE), plain(fn, 'shard7'));
    // The tag must lie inside [start, end): a close byte just past `end` does not count.
    const [buf2, s2, e2] = embed(enc.encode('key{abc'), 2, 0);
    const withClose = new Uint8Array(buf2.length + 1);
    withClose.set(buf2);
    withClose[buf2.length] = CLOSE;
    assert.equal(hashKey(fn, withClose, s2, e2, OPEN, CLOSE), plain(fn, 'key{abc'));
  });

  it('supports identical open and close bytes', () => {
    const fn = HASH_FUNCTIONS.crc32a;
    const dollar = 0x24;
    assert.equal(keyHash(fn, 'a$b$c', dollar, dollar), plain(fn, 'b'));
    assert.equal(keyHash(fn, 'a$$c', dollar, dollar), plain(fn, 'a$$c'));
  });

  it('ignores braces when the pool has no hash_tag', () => {
    const fn = HASH_FUNCTIONS.fnv1a_64;
    assert.equal(keyHash(fn, '{user1000}.following', -1, -1), plain(fn, '{user1000}.following'));
  });

  it('hashes an empty key to 0 without calling the hash', () => {
    const s = spy();
    assert.equal(hashKey(s.fn, new Uint8Array(4), 2, 2, OPEN, CLOSE), 0);
    assert.equal(hashKey(s.fn, new Uint8Array(4), 2, 2, -1, -1), 0);
    assert.deepEqual(s.ranges, []);
    // Even for hashes whose empty-input value is non-zero.
    assert.equal(hashKey(HASH_FUNCTIONS.jenkins, new Uint8Array(0), 0, 0, -1, -1), 0);
    assert.equal(hashKey(HASH_FUNCTIONS.fnv1a_64, new Uint8Array(0), 0, 0, OPEN, CLOSE), 0);
  });
});
