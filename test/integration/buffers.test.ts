// legate reads every connection into one buffer per thread and reuses it for the next read, and
// copies small ranges into its output while writing large ones by reference. These tests aim at
// the edges of both: values around the 16 KB copy limit and the 64 KB read size, replies held
// behind slower shards while later reads overwrite the read buffer, and requests split at every
// boundary. Any byte kept from a reused buffer instead of copied would show up as a wrong value.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { prng } from '../helpers/prng.ts';
import { type Cluster, startCluster } from '../helpers/processes.ts';
import { encode, RawClient } from '../helpers/resp.ts';

const SIZES = [0, 1, 100, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 64 * 1024 - 1, 64 * 1024];
const MORE_SIZES = [64 * 1024 + 1, 200 * 1024, 1024 * 1024 + 7];

let cluster: Cluster;

before(async () => {
  // One worker: every client shares the same read buffer, the case the copies are for.
  cluster = await startCluster({ shards: 3, workers: 1 });
});

after(async () => {
  await cluster?.stop();
});

/** A value whose every byte depends on its key and position, so a stray byte cannot pass. */
function valueFor(key: string, size: number): Buffer {
  const random = prng(size * 31 + key.length * 7 + key.charCodeAt(key.length - 1));
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = Math.floor(random() * 256);
  return b;
}

function bulk(value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')]);
}

it('values at the copy and read-size edges come back byte for byte, pipelined across shards', async () => {
  const keys: string[] = [];
  const values: Buffer[] = [];
  for (const size of [...SIZES, ...MORE_SIZES]) {
    for (let k = 0; k < 3; k++) {
      keys.push(`edge:${size}:${k}`);
      values.push(valueFor(`edge:${size}:${k}`, size));
    }
  }
  const c = await RawClient.connect(cluster.port);
  try {
    // All SETs and then all GETs in one write each: replies from three shards interleave.
    c.write(Buffer.concat(keys.map((k, i) => encode('SET', k, values[i]))));
    const set = await c.read(keys.length, 20000);
    for (const r of set) assert.equal(r.toString(), '+OK\r\n');
    c.write(Buffer.concat(keys.map((k) => encode('GET', k))));
    const got = await c.read(keys.length, 20000);
    for (let i = 0; i < keys.length; i++) {
      assert.ok(got[i].equals(bulk(values[i])), `GET ${keys[i]} (${values[i].length} bytes)`);
    }
    // MGET over keys on different shards: each part's reply is kept until all are in.
    const mget = await c.command('MGET', ...keys.slice(0, 24));
    const expected = Buffer.concat([Buffer.from('*24\r\n'), ...values.slice(0, 24).map(bulk)]);
    assert.ok(mget.equals(expected), 'MGET over three shards');
  } finally {
    c.close();
  }
});

it("many clients writing in odd slices at once get their own replies, never a neighbour's", async () => {
  const clients = await Promise.all(
    Array.from({ length: 12 }, () => RawClient.connect(cluster.port)),
  );
  try {
    const random = prng(0xb0ff);
    await Promise.all(
      clients.map(async (c, n) => {
        const keys = Array.from({ length: 40 }, (_, i) => `odd:${n}:${i}`);
        const sizes = keys.map(() => SIZES[Math.floor(random() * SIZES.length)]);
        const values = keys.map((k, i) => valueFor(k, sizes[i]));
        const requests = Buffer.concat([
          ...keys.map((k, i) => encode('SET', k, values[i])),
          ...keys.map((k) => encode('GET', k)),
        ]);
        // Slices of varying length, so requests straddle reads at every kind of place.
        for (let at = 0; at < requests.length; ) {
          const step = 1 + Math.floor(random() * 9000);
          c.write(requests.subarray(at, at + step));
          at += step;
        }
        const replies = await c.read(keys.length * 2, 20000);
        for (let i = 0; i < keys.length; i++) {
          assert.equal(replies[i].toString(), '+OK\r\n', `client ${n} SET ${keys[i]}`);
          assert.ok(
            replies[keys.length + i].equals(bulk(values[i])),
            `client ${n} GET ${keys[i]} (${values[i].length} bytes)`,
          );
        }
      }),
    );
  } finally {
    for (const c of clients) c.close();
  }
});
