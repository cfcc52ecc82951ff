import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  allocateRing,
  NO_SERVER,
  RingReader,
  RingWriter,
} from '../../engine/shared/ring-memory.ts';
import { tornTestContinuum } from '../helpers/torn-ring.ts';

test('an empty ring routes nowhere; a published one routes', () => {
  const sab = allocateRing('modula', 4);
  const reader = new RingReader(sab);
  assert.equal(reader.serverFor(123), NO_SERVER);
  const writer = new RingWriter(sab);
  assert.equal(writer.publish({ points: new Uint32Array(3), servers: Uint16Array.of(0, 1, 2) }), 1);
  assert.equal(reader.serverFor(7), 1);
  assert.equal(reader.generation, 1);
  assert.throws(
    () => writer.publish({ points: new Uint32Array(5), servers: new Uint16Array(5) }),
    RangeError,
  );
});

test('workers never see a torn ring while the main thread swaps generations', async () => {
  const sab = allocateRing('ketama', 255);
  const writer = new RingWriter(sab);
  writer.publish(tornTestContinuum(1));
  const stop = new SharedArrayBuffer(8);
  const flags = new Int32Array(stop);
  const url = new URL('../helpers/ring-reader-worker.ts', import.meta.url);
  const workers = [0, 1].map(() => new Worker(url, { workerData: { sab, stop } }));
  const results = workers.map(
    (w) =>
      new Promise<{ lookups: number; torn: number; generations: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  while (Atomics.load(flags, 1) < workers.length) await new Promise((r) => setTimeout(r, 5));
  const publishes = 20000;
  for (let g = 0; g < publishes; g++) {
    writer.publish(tornTestContinuum(1 + (g % 254)));
    // Let readers interleave with writes: yield to the event loop every ten publishes.
    if (g % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  Atomics.store(flags, 0, 1);
  const seen = await Promise.all(results);
  assert.equal(writer.generation, publishes + 1);
  for (const r of seen) {
    assert.equal(r.torn, 0, `torn reads: ${JSON.stringify(r)}`);
    assert.ok(r.lookups > 10000, `reader ran: ${JSON.stringify(r)}`);
    assert.ok(r.generations > 50, `reader saw generations change: ${JSON.stringify(r)}`);
  }
});
