// The compatibility proof: for configs of every shape, keys written through Debian's nutcracker
// 0.5.0 to real redis-server shards are found, shard by shard, exactly where `legate locate` on
// the same config file says they are. A wrong hash, point count, sort order, tag rule or modula
// index moves some of the thousands of keys, and the test names them.
//
// Not covered: `distribution: random`, where nutcracker picks any live server per request, so no
// key has a place to compare.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requireProgram } from '../../engine/cli/redis-process.ts';
import type { HashName } from '../../engine/hash/types.ts';
import { HASH_NAMES } from '../../engine/hash/types.ts';
import { prng } from '../helpers/prng.ts';
import {
  freePort,
  type RedisProcess,
  runLegate,
  startNutcracker,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { decode, encode, RawClient, type Reply, ReplyError } from '../helpers/resp.ts';

/** Enough shards for the largest ring below; 25 equal servers get 156 ketama points each, not 160. */
const SHARD_COUNT = 25;

let shards: RedisProcess[] = [];
let shardClients: RawClient[] = [];

before(async () => {
  requireProgram('nutcracker', 'nutcracker');
  shards = await startShards(SHARD_COUNT);
  shardClients = await Promise.all(shards.map((s) => RawClient.connect(s.port)));
});

after(async () => {
  for (const c of shardClients) c.close();
  await stopAll(shards);
});

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-.';
const UNICODE = ['é', 'ü', 'ß', 'ñ', 'ж', 'λ', '中', '文', '鍵', '🔑', '😀', 'a', 'b', ':', '1'];

type KeyKind = 'ascii' | 'binary' | 'utf8' | 'tagged' | 'colons';

/** One key of a kind. `\n` never appears: `legate locate` reads keys one a line. */
function makeKey(kind: KeyKind, rnd: () => number, i: number): Buffer {
  const int = (n: number) => Math.floor(rnd() * n);
  switch (kind) {
    case 'ascii': {
      if (i % 3 === 0) return Buffer.from(`user:${int(1_000_000)}`);
      let s = '';
      for (let n = 1 + int(40); n > 0; n--) s += ALNUM[int(ALNUM.length)];
      return Buffer.from(s);
    }
    case 'binary': {
      // Mostly bytes >= 0x80, where twemproxy's signed char matters, plus \0, \r, \t and space.
      const b = Buffer.alloc(1 + int(48));
      for (let j = 0; j < b.length; j++) {
        const r = rnd();
        b[j] = r < 0.6 ? 0x80 + int(128) : r < 0.7 ? [0, 13, 9, 32][int(4)] : int(256);
        if (b[j] === 10) b[j] = 11;
      }
      return b;
    }
    case 'utf8': {
      let s = '';
      for (let n = 1 + int(16); n > 0; n--) s += UNICODE[int(UNICODE.length)];
      return Buffer.from(s, 'utf8');
    }
    case 'tagged': {
      // Tags that apply, an empty tag `{}` (the whole key is hashed), an unclosed `{`, a close
      // before the open, two tags (the first counts), and non-ASCII inside a tag.
      const id = int(300);
      const shapes = [
        `{user:${id}}:profile`,
        `{user:${id}}:cart:${int(1000)}`,
        `prefix:{user:${id}}`,
        `{}user:${id}`,
        `{user:${id}`,
        `}user:${id}{`,
        `{a${id}}{b${int(1000)}}`,
        `{café${id}}:x${int(1000)}`,
        `plain:${int(100000)}`,
      ];
      return Buffer.from(shapes[int(shapes.length)], 'utf8');
    }
    case 'colons': {
      const shapes = [
        `a:${int(200)}:b${int(1000)}`,
        `::x${int(1000)}`,
        `:${int(200)}:`,
        `k${int(100000)}`,
      ];
      return Buffer.from(shapes[int(shapes.length)]);
    }
  }
}

/** `count` distinct non-empty keys of the given kinds, in turn; seeded, so a failure reproduces. */
function makeKeys(count: number, kinds: readonly KeyKind[], seed: number): Buffer[] {
  const rnd = prng(seed);
  const seen = new Set<string>();
  const keys: Buffer[] = [];
  for (let i = 0; keys.length < count && i < count * 20; i++) {
    const key = makeKey(kinds[i % kinds.length], rnd, i);
    const id = key.toString('latin1');
    if (seen.has(id)) continue;
    seen.add(id);
    keys.push(key);
  }
  assert.equal(keys.length, count, 'could not make enough distinct keys');
  return keys;
}

const MIXED: readonly KeyKind[] = ['ascii', 'binary', 'utf8'];

interface ServerLine {
  /** Index into `shards`. */
  readonly shard: number;
  readonly weight: number;
  readonly name?: string;
}

interface Pool {
  readonly name: string;
  readonly hash: HashName;
  readonly distribution: 'ketama' | 'modula';
  readonly hashTag?: string;
  readonly servers: readonly ServerLine[];
}

interface Case {
  readonly title: string;
  /** The pool written through and located. */
  readonly pool: Pool;
  /** Other pools in the same file, so `--pool` has to pick. */
  readonly others?: readonly Pool[];
  readonly keys: number;
  readonly kinds: readonly KeyKind[];
}

const equal = (count: number, first = 0): ServerLine[] =>
  Array.from({ length: count }, (_, i) => ({ shard: first + i, weight: 1 }));

const CASES: Case[] = [
  ...HASH_NAMES.map(
    (hash): Case => ({
      title: `ketama, ${hash}, 4 servers`,
      pool: { name: 'alpha', hash, distribution: 'ketama', servers: equal(4) },
      keys: 2000,
      kinds: MIXED,
    }),
  ),
  ...HASH_NAMES.map(
    (hash): Case => ({
      title: `modula, ${hash}, 3 servers`,
      pool: { name: 'alpha', hash, distribution: 'modula', servers: equal(3) },
      keys: 2000,
      kinds: MIXED,
    }),
  ),
  {
    title: 'ketama, unequal weights 3,1,1,2,5',
    pool: {
      name: 'weighted',
      hash: 'fnv1a_64',
      distribution: 'ketama',
      servers: [3, 1, 1, 2, 5].map((weight, shard) => ({ shard, weight })),
    },
    keys: 3000,
    kinds: MIXED,
  },
  {
    title: 'modula, unequal weights 3,1,2',
    pool: {
      name: 'weighted',
      hash: 'murmur',
      distribution: 'modula',
      servers: [3, 1, 2].map((weight, shard) => ({ shard, weight })),
    },
    keys: 2000,
    kinds: MIXED,
  },
  {
    // Names sort (shorter first, then bytewise) in another order than the ports do; the weight
    // is never part of what ketama hashes.
    title: 'ketama, named servers with weights',
    pool: {
      name: 'named',
      hash: 'fnv1a_64',
      distribution: 'ketama',
      servers: [
        { shard: 0, weight: 1, name: 'zeta' },
        { shard: 1, weight: 2, name: 'alpha' },
        { shard: 2, weight: 1, name: 'shard-b' },
        { shard: 3, weight: 1, name: 'b' },
        { shard: 4, weight: 3, name: 'Zeta' },
      ],
    },
    keys: 3000,
    kinds: MIXED,
  },
  {
    title: 'modula, named servers with weights',
    pool: {
      name: 'named',
      hash: 'md5',
      distribution: 'modula',
      servers: [
        { shard: 0, weight: 2, name: 'redis-10' },
        { shard: 1, weight: 1, name: 'redis-9' },
        { shard: 2, weight: 1, name: 'redis-1' },
      ],
    },
    keys: 2000,
    kinds: MIXED,
  },
  {
    title: 'ketama, hash_tag "{}"',
    pool: {
      name: 'tagged',
      hash: 'fnv1a_64',
      distribution: 'ketama',
      hashTag: '{}',
      servers: equal(5),
    },
    keys: 2000,
    kinds: ['tagged'],
  },
  {
    title: 'modula, hash_tag "{}", crc32a',
    pool: {
      name: 'tagged',
      hash: 'crc32a',
      distribution: 'modula',
      hashTag: '{}',
      servers: equal(3),
    },
    keys: 2000,
    kinds: ['tagged'],
  },
  {
    // Both tag bytes alike: the close is searched after the open, so `a:1:b` hashes `1`.
    title: 'ketama, hash_tag "::"',
    pool: {
      name: 'colons',
      hash: 'jenkins',
      distribution: 'ketama',
      hashTag: '::',
      servers: equal(4),
    },
    keys: 2000,
    kinds: ['colons'],
  },
  ...(['fnv1a_64', 'one_at_a_time', 'hsieh'] as const).map(
    (hash): Case => ({
      title: `ketama, ${hash}, binary keys, mostly bytes >= 0x80`,
      pool: { name: 'bytes', hash, distribution: 'ketama', servers: equal(3) },
      keys: 2000,
      kinds: ['binary'],
    }),
  ),
  {
    title: 'ketama, fnv1a_64, 12 servers',
    pool: { name: 'big', hash: 'fnv1a_64', distribution: 'ketama', servers: equal(12) },
    keys: 3000,
    kinds: MIXED,
  },
  {
    // float32 gives each of 25 equal servers 156 points, not 160: a float64 count moves keys.
    title: 'ketama, fnv1a_64, 25 servers (156 points each)',
    pool: { name: 'big', hash: 'fnv1a_64', distribution: 'ketama', servers: equal(25) },
    keys: 5000,
    kinds: MIXED,
  },
  {
    title: 'one server: nothing is hashed',
    pool: { name: 'single', hash: 'md5', distribution: 'ketama', servers: equal(1) },
    keys: 500,
    kinds: MIXED,
  },
  {
    title: 'the second of two pools in one file, picked with --pool',
    pool: {
      name: 'second',
      hash: 'crc32',
      distribution: 'ketama',
      servers: equal(4, 4),
    },
    others: [{ name: 'first', hash: 'md5', distribution: 'modula', servers: equal(4) }],
    keys: 2000,
    kinds: MIXED,
  },
];

function serverName(s: ServerLine): string {
  return s.name ?? `127.0.0.1:${shards[s.shard].port}`;
}

function poolText(pool: Pool, listenPort: number): string {
  const lines = [
    `${pool.name}:`,
    `  listen: 127.0.0.1:${listenPort}`,
    '  redis: true',
    `  hash: ${pool.hash}`,
    `  distribution: ${pool.distribution}`,
  ];
  if (pool.hashTag !== undefined) lines.push(`  hash_tag: ${JSON.stringify(pool.hashTag)}`);
  lines.push('  servers:');
  for (const s of pool.servers) {
    const line = `127.0.0.1:${shards[s.shard].port}:${s.weight}`;
    lines.push(`    - ${s.name === undefined ? line : `${line} ${s.name}`}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Which shard port holds each key, by asking every shard for all its keys. */
async function holders(): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  const replies = await Promise.all(shardClients.map((c) => c.call('KEYS', '*')));
  replies.forEach((reply, i) => {
    assert.ok(Array.isArray(reply), `KEYS * on shard ${shards[i].port}: ${String(reply)}`);
    for (const key of reply) {
      assert.ok(Buffer.isBuffer(key));
      const id = key.toString('latin1');
      const ports = found.get(id) ?? [];
      ports.push(shards[i].port);
      found.set(id, ports);
    }
  });
  return found;
}

/** Sends every command in one write (a pipeline) and decodes the replies. */
async function pipeline(client: RawClient, commands: readonly Buffer[]): Promise<Reply[]> {
  client.write(Buffer.concat(commands));
  return (await client.read(commands.length)).map(decode);
}

function describeReply(r: Reply): string {
  return r instanceof ReplyError ? `-${r.message}` : String(r);
}

async function checkCase(c: Case): Promise<void> {
  await Promise.all(shardClients.map((s) => s.call('FLUSHALL')));
  const listen = await freePort();
  const others = await Promise.all(
    (c.others ?? []).map(async (p) => poolText(p, await freePort())),
  );
  const config = writeConfig([...others, poolText(c.pool, listen)].join(''), 'nutcracker.yml');
  const nutcracker = await startNutcracker(config.file, listen);
  try {
    const keys = makeKeys(c.keys, c.kinds, 0x5eed + c.title.length * 7919);
    const client = await RawClient.connect(listen);
    let replies: Reply[];
    try {
      replies = await pipeline(
        client,
        keys.map((k) => encode('SET', k, 'v')),
      );
    } finally {
      client.close();
    }
    const failed = replies.findIndex((r) => r !== 'OK');
    assert.equal(
      failed,
      -1,
      `SET through nutcracker failed for key ${keys[failed]?.toString('hex')}: ${describeReply(replies[failed])}`,
    );

    const stored = await holders();
    assert.equal(stored.size, keys.length, 'every key written is on some shard');

    const input = Buffer.concat(keys.flatMap((k) => [k, Buffer.from('\n')]));
    const r = await runLegate(['locate', '-c', config.file, '--pool', c.pool.name], { input });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.toString('latin1').split('\n');
    assert.equal(lines.pop(), '', 'output ends with a newline');
    assert.equal(lines.length, keys.length, 'one line per key');

    const portOf = new Map(c.pool.servers.map((s) => [serverName(s), shards[s.shard].port]));
    const wrong: string[] = [];
    lines.forEach((line, i) => {
      const serverTab = line.lastIndexOf('\t');
      const poolTab = line.lastIndexOf('\t', serverTab - 1);
      const key = line.slice(0, poolTab);
      const id = keys[i].toString('latin1');
      assert.equal(key, id, `line ${i + 1} echoes its key`);
      assert.equal(line.slice(poolTab + 1, serverTab), c.pool.name);
      const server = Buffer.from(line.slice(serverTab + 1), 'latin1').toString('utf8');
      const at = stored.get(id) ?? [];
      assert.equal(at.length, 1, `key ${keys[i].toString('hex')} is on exactly one shard`);
      if (portOf.get(server) !== at[0]) {
        const actual = [...portOf].find(([, p]) => p === at[0])?.[0];
        wrong.push(
          `${keys[i].toString('hex')}: legate says ${server}, nutcracker put it on ${actual}`,
        );
      }
    });
    assert.deepEqual(
      wrong.slice(0, 5),
      [],
      `${wrong.length} of ${keys.length} keys located on the wrong server (first 5 shown, keys in hex)`,
    );
  } finally {
    await nutcracker.stop();
    config.cleanup();
  }
}

describe('legate locate names the shard nutcracker 0.5.0 wrote each key to', () => {
  for (const c of CASES) it(c.title, () => checkCase(c));
});
