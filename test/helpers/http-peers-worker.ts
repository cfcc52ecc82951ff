// A worker thread that drives a balancer on a shared peer table: every pick of peer 0 fails,
// every other succeeds; it reports the peers it was given.
import { parentPort, workerData } from 'node:worker_threads';
import { HttpPeerHealth } from '../../engine/shared/http-peers-memory.ts';
import { createBalancer } from '../../workers/http/balance/balancer.ts';
import { PickState } from '../../workers/http/balance/peers.ts';
import { upstreamOf } from './http-peers.ts';

const { sab, worker, requests, hold } = workerData as {
  sab: SharedArrayBuffer;
  worker: number;
  requests: number;
  hold: number;
};
const b = createBalancer(
  upstreamOf('least_conn', [
    { name: 'a:80', maxFails: 1000000, failTimeoutMs: 60000 },
    { name: 'b:80' },
    { name: 'c:80' },
  ]),
  new HttpPeerHealth(sab, worker),
  0,
);
const counts = [0, 0, 0];
const state = new PickState(3);
const now = b.peers.now();
for (let i = 0; i < requests; i++) {
  b.begin(state, new Uint8Array(0), -1);
  const peer = b.pick(state, now);
  counts[peer]++;
  b.peers.release(peer, peer === 0, now);
}
// Connections held open: the other threads must see them.
for (let i = 0; i < hold; i++) {
  const s = new PickState(3);
  b.begin(s, new Uint8Array(0), -1);
  b.pick(s, now);
}
parentPort!.postMessage(counts);
