// Reads a shared ring as fast as it can while the main thread republishes it; reports torn reads.
import { parentPort, workerData } from 'node:worker_threads';
import { RingReader } from '../../engine/shared/ring-memory.ts';
import { expectedIndex } from './torn-ring.ts';

const { sab, stop } = workerData as { sab: SharedArrayBuffer; stop: SharedArrayBuffer };
const reader = new RingReader(sab);
const stopFlag = new Int32Array(stop);
let lookups = 0;
let torn = 0;
let generations = 0;
let lastGeneration = -1;
let h = 12345;
Atomics.add(stopFlag, 1, 1);
while (Atomics.load(stopFlag, 0) === 0) {
  h = (Math.imul(h, 1103515245) + 12345) >>> 0;
  const server = reader.serverFor(h);
  lookups++;
  if (server === -1) continue;
  const count = server >> 8;
  const index = server & 0xff;
  if (count === 0 || index !== expectedIndex(count, h)) torn++;
  const g = reader.generation;
  if (g !== lastGeneration) {
    generations++;
    lastGeneration = g;
  }
}
parentPort?.postMessage({ lookups, torn, generations });
