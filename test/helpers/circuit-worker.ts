// One thread of the classic-circuit race test: admits and records calls on the shared circuit
// as fast as it can, half of them failing, so the circuit cycles open → half-open → … while the
// other threads do the same.
import { parentPort, workerData } from 'node:worker_threads';
import type { ClassicBreakerConfig } from '../../engine/config/http-types.ts';
import { type BreakerLayout, BreakerMemory } from '../../engine/shared/breaker-memory.ts';
import { Circuits, REJECTED } from '../../engine/shared/circuit.ts';
import { prng } from './prng.ts';

const { sab, layout, config, worker, calls } = workerData as {
  sab: SharedArrayBuffer;
  layout: BreakerLayout;
  config: ClassicBreakerConfig;
  worker: number;
  calls: number;
};
const circuits = new Circuits(new BreakerMemory(sab, layout, worker), config, () => {});
const random = prng(worker + 1);
for (let i = 0; i < calls; i++) {
  const ticket = circuits.admit(0, Date.now());
  if (ticket !== REJECTED) circuits.record(0, ticket, random() < 0.5, 1, Date.now());
}
parentPort?.postMessage('done');
