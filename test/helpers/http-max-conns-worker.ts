// A worker thread that races the others for connections on a shared peer table whose peers
// have max_conns: it picks, holds the connection a moment, and counts every time it saw more
// connections on its peer than max_conns allows; then it releases. Posts { picks, full, over }.
import { parentPort, workerData } from 'node:worker_threads';
import { HttpPeerHealth } from '../../engine/shared/http-peers-memory.ts';
import { createBalancer } from '../../workers/http/balance/balancer.ts';
import { PickState } from '../../workers/http/balance/peers.ts';
import { upstreamOf } from './http-peers.ts';

const { sab, worker, rounds, maxConns, go } = workerData as {
  sab: SharedArrayBuffer;
  worker: number;
  rounds: number;
  maxConns: number;
  /** Int32 cells: [threads waiting to start]; all start together when it reaches 0. */
  go: SharedArrayBuffer;
};
const b = createBalancer(
  upstreamOf('least_conn', [
    { name: 'a:80', maxConns },
    { name: 'b:80', maxConns },
  ]),
  new HttpPeerHealth(sab, worker),
  0,
);
const state = new PickState(2);
const now = b.peers.now();
const start = new Int32Array(go);
Atomics.sub(start, 0, 1);
while (Atomics.load(start, 0) > 0);
let picks = 0;
let full = 0;
let over = 0;
for (let i = 0; i < rounds; i++) {
  b.begin(state, new Uint8Array(0), -1);
  const peer = b.pick(state, now);
  if (peer < 0) {
    full++;
    continue;
  }
  picks++;
  // Held a little, as a request is: the other threads pick meanwhile.
  for (let k = 0; k < 20; k++) if (b.peers.conns(peer) > maxConns) over++;
  b.peers.release(peer, false, now);
}
parentPort?.postMessage({ picks, full, over });
