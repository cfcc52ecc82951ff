// Picks from a backend's shared roundrobin state as fast as it can, alongside other workers;
// posts how many picks each server got. Servers are all up, without maxconn.
import { parentPort, workerData } from 'node:worker_threads';
import { FastWeightedRoundRobin } from '../../workers/tcp/balance/fwrr.ts';

const { cells, weights, worker, picks } = workerData as {
  cells: SharedArrayBuffer;
  weights: number[];
  worker: number;
  picks: number;
};
const rr = new FastWeightedRoundRobin(
  new Int32Array(cells),
  weights,
  weights.map(() => false),
  false,
  worker,
);
const always = {
  usable: () => true,
  hasSlot: () => true,
  reserve: () => true,
  current: () => 0,
};
const got = weights.map(() => 0);
for (let i = 0; i < picks; i++) got[rr.pick(always, -1)]++;
parentPort?.postMessage(got);
