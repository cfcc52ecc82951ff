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
  const readers = 2;
  const control = new SharedArrayBuffer(4 * (2 + 3 * readers));
  const shared = new Int32Array(control);
  const url = new URL('../helpers/ring-reader-worker.ts', import.meta.url);
  const workers = Array.from(
    { length: readers },
    (_, slot) => new Worker(url, { workerData: { sab, control, slot } }),
  );
  const exited = workers.map(
    (w) => new Promise((resolve, reject) => w.once('exit', resolve).once('error', reject)),
  );
  while (Atomics.load(shared, 1) < readers) await new Promise((r) => setTimeout(r, 5));
  const stat = (reader: number, field: number) => Atomics.load(shared, 2 + reader * 3 + field);
  // Publish until every reader has seen many generations come and go (or 20 s pass on a
  // starved machine), yielding often so reads and writes interleave.
  const deadline = Date.now() + 20000;
  let g = 0;
  const enough = () => Array.from({ length: readers }, (_, r) => stat(r, 1)).every((n) => n >= 500);
  while ((g < 20000 || !enough()) && Date.now() < deadline) {
    writer.publish(tornTestContinuum(1 + (g++ % 254)));
    if (g % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  Atomics.store(shared, 0, 1);
  await Promise.all(exited);
  assert.equal(writer.generation, g + 1);
  for (let r = 0; r < readers; r++) {
    const seen = { lookups: stat(r, 0), generations: stat(r, 1), torn: stat(r, 2) };
    assert.equal(seen.torn, 0, `torn reads: ${JSON.stringify(seen)}`);
    assert.ok(seen.generations >= 100, `reader saw generations change: ${JSON.stringify(seen)}`);
  }
});
