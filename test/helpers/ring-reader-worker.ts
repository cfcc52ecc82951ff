// Reads a shared ring as fast as it can while the main thread republishes it; counts torn reads.
// Progress goes to shared counters [stop, started, lookups, generations, torn] per reader.
import { workerData } from 'node:worker_threads';
import { RingReader } from '../../engine/shared/ring-memory.ts';
import { expectedIndex } from './torn-ring.ts';

const { sab, control, slot } = workerData as {
  sab: SharedArrayBuffer;
  control: SharedArrayBuffer;
  slot: number;
};
const reader = new RingReader(sab);
const shared = new Int32Array(control);
const mine = 2 + slot * 3;
let lookups = 0;
let torn = 0;
let generations = 0;
let lastGeneration = -1;
let h = 12345 + slot;
Atomics.add(shared, 1, 1);
while (Atomics.load(shared, 0) === 0) {
  h = (Math.imul(h, 1103515245) + 12345) >>> 0;
  const server = reader.serverFor(h);
  lookups++;
  if (server !== -1) {
    const count = server >> 8;
    if (count === 0 || (server & 0xff) !== expectedIndex(count, h)) torn++;
  }
  const g = reader.generation;
  if (g !== lastGeneration) {
    generations++;
    lastGeneration = g;
  }
  if ((lookups & 1023) === 0) {
    Atomics.store(shared, mine, lookups);
    Atomics.store(shared, mine + 1, generations);
    Atomics.store(shared, mine + 2, torn);
  }
}
Atomics.store(shared, mine, lookups);
Atomics.store(shared, mine + 1, generations);
Atomics.store(shared, mine + 2, torn);
