// Replacing nutcracker with legate on the same shards and the same config file: every key one of
// them wrote, the other finds. Run in turns (nutcracker, legate, nutcracker) since both listen on
// the file's one address; several hash and distribution settings, server names and weights.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { below, prng } from '../helpers/prng.ts';
import {
  freePort,
  type RedisProcess,
  startLegate,
  startNutcracker,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { encode, RawClient } from '../helpers/resp.ts';

let shards: RedisProcess[] = [];

before(async () => {
  shards = await startShards(3);
});

after(async () => {
  await stopAll(shards);
});

/** Keys of many shapes: hash-tagged, UTF-8, bytes >= 0x80 (fnv sign-extends them), CR LF. */
function keys(prefix: string, count: number, seed: number): Buffer[] {
  const random = prng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 5) {
      case 0:
        out.push(Buffer.from(`${prefix}:user:${below(random, 1e9)}`));
        break;
      case 1:
        out.push(Buffer.from(`${prefix}:{tag${i % 7}}:${below(random, 1e6)}`));
        break;
      case 2:
        out.push(Buffer.from(`${prefix}:ключ:${below(random, 1e6)}`));
        break;
      case 3: {
        const raw = Buffer.alloc(12);
        for (let j = 0; j < raw.length; j++) raw[j] = below(random, 256);
        out.push(Buffer.concat([Buffer.from(`${prefix}:`), raw]));
        break;
      }
      default:
        out.push(Buffer.from(`${prefix}:line\r\n${below(random, 1e6)}`));
    }
  }
  return out;
}

const valueFor = (key: Buffer) => Buffer.concat([Buffer.from('value of '), key]);

/** SETs every key (and one MSET of the last ten, which both proxies split per shard). */
async function write(port: number, list: readonly Buffer[]): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    const single = list.slice(0, -10);
    c.write(Buffer.concat(single.map((k) => encode('SET', k, valueFor(k)))));
    const replies = await c.read(single.length);
    for (const r of replies) assert.equal(r.toString(), '+OK\r\n');
    const multi = list.slice(-10).flatMap((k) => [k, valueFor(k)]);
    assert.equal((await c.command('MSET', ...multi)).toString(), '+OK\r\n');
  } finally {
    c.close();
  }
}

/** GETs every key, and MGETs them all at once, expecting the values `write` stored. */
async function read(port: number, list: readonly Buffer[]): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    c.write(Buffer.concat(list.map((k) => encode('GET', k))));
    const replies = await c.read(list.length);
    for (let i = 0; i < list.length; i++) {
      const v = valueFor(list[i]);
      const expected = Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]);
      assert.deepEqual(replies[i], expected, `GET ${JSON.stringify(list[i].toString('latin1'))}`);
    }
    const all = await c.call('MGET', ...list);
    assert.deepEqual(all, list.map(valueFor));
  } finally {
    c.close();
  }
}

async function totalKeys(): Promise<number> {
  let sum = 0;
  for (const s of shards) {
    const c = await RawClient.connect(s.port);
    sum += Number(await c.call('DBSIZE'));
    c.close();
  }
  return sum;
}

const VARIANTS: { name: string; settings: string[]; weights: number[]; names: boolean }[] = [
  {
    name: 'fnv1a_64, ketama, hash_tag {}',
    settings: ['hash: fnv1a_64', 'distribution: ketama', 'hash_tag: "{}"'],
    weights: [1, 1, 1],
    names: false,
  },
  {
    name: 'murmur, ketama, named servers with weights 3, 1, 2',
    settings: ['hash: murmur', 'distribution: ketama'],
    weights: [3, 1, 2],
    names: true,
  },
  {
    name: 'md5, modula, weights 1, 2, 1',
    settings: ['hash: md5', 'distribution: modula', 'server_connections: 2'],
    weights: [1, 2, 1],
    names: false,
  },
  {
    name: 'crc32a, ketama, hash_tag ::',
    settings: ['hash: crc32a', 'distribution: ketama', 'hash_tag: "::"'],
    weights: [2, 2, 1],
    names: true,
  },
];

for (const [v, variant] of VARIANTS.entries()) {
  test(`nutcracker and legate find each other's keys: ${variant.name}`, async () => {
    const port = await freePort();
    const yaml = [
      'interop:',
      `  listen: 127.0.0.1:${port}`,
      '  redis: true',
      '  auto_eject_hosts: false',
      ...variant.settings.map((s) => `  ${s}`),
      '  servers:',
      ...shards.map(
        (s, i) =>
          `    - 127.0.0.1:${s.port}:${variant.weights[i]}${variant.names ? ` shard-${'abc'[i]}` : ''}`,
      ),
      '',
    ].join('\n');
    const config = writeConfig(yaml, 'nutcracker.yml');
    const before = await totalKeys();
    const byNutcracker = keys(`n${v}`, 250, 100 + v);
    const byLegate = keys(`l${v}`, 250, 200 + v);
    try {
      let nutcracker = await startNutcracker(config.file, port);
      try {
        await write(port, byNutcracker);
      } finally {
        await nutcracker.stop();
      }
      // Every key landed on exactly one shard, and every shard got some.
      assert.equal(await totalKeys(), before + byNutcracker.length);

      const legate = await startLegate(['-c', config.file, '-w', '2']);
      try {
        await read(port, byNutcracker);
        await write(port, byLegate);
      } finally {
        assert.equal(await legate.stop(), 0);
      }
      assert.equal(await totalKeys(), before + byNutcracker.length + byLegate.length);

      nutcracker = await startNutcracker(config.file, port);
      try {
        await read(port, byLegate);
      } finally {
        await nutcracker.stop();
      }
    } finally {
      config.cleanup();
    }
  });
}

test('the shards all took part', async () => {
  for (const s of shards) {
    const c = await RawClient.connect(s.port);
    assert.ok(Number(await c.call('DBSIZE')) > 100, `shard ${s.port} holds keys`);
    c.close();
  }
});
