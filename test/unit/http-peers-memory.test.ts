import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { allocateHttpPeers, HttpPeerHealth } from '../../engine/shared/http-peers-memory.ts';
import { createBalancer, peerSpec } from '../../workers/http/balance/balancer.ts';
import { PeerSet, PickState } from '../../workers/http/balance/peers.ts';
import { RoundRobin } from '../../workers/http/balance/round-robin.ts';
import { upstreamOf } from '../helpers/http-peers.ts';

test('failures and connections counted in one worker are seen by every worker', async () => {
  const sab = allocateHttpPeers(3, 3);
  const run = (worker: number, requests: number, hold: number) =>
    new Promise<number[]>((resolve, reject) => {
      const w = new Worker(new URL('../helpers/http-peers-worker.ts', import.meta.url), {
        workerData: { sab, worker, requests, hold },
      });
      w.once('message', resolve);
      w.once('error', reject);
    });
  const counts = await Promise.all([run(0, 300, 2), run(1, 300, 2), run(2, 300, 2)]);
  const health = new HttpPeerHealth(sab);
  const failures = counts.reduce((sum, c) => sum + c[0], 0);
  assert.ok(failures > 0, 'peer a was tried');
  assert.equal(health.fails(0), failures, 'every failure, from any thread, counted once');
  // Six connections held open by three threads, all in the shared counts …
  const conns = [health.conns(0), health.conns(1), health.conns(2)];
  assert.equal(conns[0] + conns[1] + conns[2], 6);
  // … which least_conn in another thread (here, the main one) goes by.
  const b = createBalancer(
    upstreamOf('least_conn', [{ name: 'a:80' }, { name: 'b:80' }, { name: 'c:80' }]),
    health,
    0,
  );
  const state = new PickState(3);
  b.begin(state, new Uint8Array(0), -1);
  const picked = b.pick(state, b.peers.now());
  assert.equal(conns[picked], Math.min(...conns));
  b.peers.release(picked, false, b.peers.now());
  // The threads have ended holding their connections, as a worker that dies does: the
  // supervisor takes each one's share off.
  for (const worker of [0, 1, 2]) health.forgetWorker(worker);
  assert.deepEqual([health.conns(0), health.conns(1), health.conns(2)], [0, 0, 0]);
});

test('a failed peer stays out for fail_timeout, and a success after it clears the count', () => {
  const health = new HttpPeerHealth(allocateHttpPeers(1, 1, 0));
  health.acquire(0, 0, 10000, 5);
  health.release(0, true, 5);
  assert.equal(health.isFailed(0, 1, 10000, 10005), true);
  assert.equal(health.isFailed(0, 1, 10000, 10006), false);
  assert.equal(health.isFailed(0, 0, 10000, 6), false, 'max_fails=0 never fails a peer');
  health.acquire(0, 0, 10000, 20000);
  health.release(0, false, 20000);
  assert.equal(health.fails(0), 0);
  assert.equal(health.conns(0), 0);
  assert.equal(health.now(1234), 1234);
});

/** Runs `threads` racers on one table (test/helpers/http-max-conns-worker.ts); their reports. */
function race(
  sab: SharedArrayBuffer,
  threads: number,
  rounds: number,
  maxConns: number,
): Promise<{ picks: number; full: number; over: number }[]> {
  const go = new SharedArrayBuffer(4);
  new Int32Array(go)[0] = threads;
  return Promise.all(
    Array.from(
      { length: threads },
      (_, worker) =>
        new Promise<{ picks: number; full: number; over: number }>((resolve, reject) => {
          const w = new Worker(new URL('../helpers/http-max-conns-worker.ts', import.meta.url), {
            workerData: { sab, worker, rounds, maxConns, go },
          });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
}

test('max_conns holds across threads racing for the last connection', async () => {
  const threads = 4;
  const sab = allocateHttpPeers(2, threads);
  const reports = await race(sab, threads, 200_000, 1);
  const total = (k: 'picks' | 'full' | 'over') => reports.reduce((n, r) => n + r[k], 0);
  assert.ok(total('picks') > 0, 'connections were given');
  assert.ok(total('full') > 0, 'the threads did race for full peers');
  assert.equal(total('over'), 0, 'no peer ever held more connections than max_conns');
  const health = new HttpPeerHealth(sab);
  assert.deepEqual([health.conns(0), health.conns(1)], [0, 0], 'every connection given back');
});

test('a peer another worker fills between choosing and taking is skipped for the next', () => {
  const sab = allocateHttpPeers(2, 2);
  const lines = [
    { name: 'a:80', maxConns: 1 },
    { name: 'b:80', maxConns: 1 },
  ];
  const peersOf = (worker: number) =>
    new PeerSet(
      upstreamOf('round_robin', lines).servers.map((s) => peerSpec(s)),
      new HttpPeerHealth(sab, worker),
    );
  const other = new RoundRobin(peersOf(1));
  /** Worker 0: right after its first choice, worker 1 picks (as it may, on another core). */
  class Interleaved extends RoundRobin {
    chosen: number[] = [];
    override choose(state: PickState, now: number): number {
      const peer = super.choose(state, now);
      this.chosen.push(peer);
      if (this.chosen.length === 1) {
        const s = new PickState(2);
        other.begin(s, new Uint8Array(0), -1);
        assert.equal(other.pick(s, now), peer, 'worker 1 takes the same peer, its last connection');
      }
      return peer;
    }
  }
  const mine = new Interleaved(peersOf(0));
  const state = new PickState(2);
  mine.begin(state, new Uint8Array(0), -1);
  const now = mine.peers.now();
  assert.equal(mine.pick(state, now), 1, 'worker 0 goes on to the other peer');
  assert.deepEqual(mine.chosen, [0, 1]);
  assert.deepEqual([mine.peers.conns(0), mine.peers.conns(1)], [1, 1], 'never 2 on peer 0');
  // Both full now: the next request of either worker gets none (502).
  const s = new PickState(2);
  mine.begin(s, new Uint8Array(0), -1);
  assert.equal(mine.pick(s, now), -1);
});

test('the connections a dead worker held are taken off the shared counts', () => {
  const sab = allocateHttpPeers(2, 2);
  const [w0, w1] = [new HttpPeerHealth(sab, 0), new HttpPeerHealth(sab, 1)];
  assert.equal(w0.acquire(0, 3, 10000, 1), true);
  assert.equal(w0.acquire(0, 3, 10000, 1), true);
  assert.equal(w1.acquire(0, 3, 10000, 1), true);
  assert.equal(w1.acquire(0, 3, 10000, 1), false, 'max_conns=3 reached across both workers');
  assert.equal(w1.acquire(1, 0, 10000, 1), true);
  const main = new HttpPeerHealth(sab);
  main.forgetWorker(1);
  assert.deepEqual([main.conns(0), main.conns(1)], [2, 0]);
  assert.equal(w0.acquire(0, 3, 10000, 1), true, 'the dead worker’s place is free again');
  for (let i = 0; i < 3; i++) w0.release(0, false, 2);
  main.forgetWorker(1);
  assert.deepEqual([main.conns(0), main.conns(1)], [0, 0], 'forgetting twice takes nothing more');
  assert.throws(() => new HttpPeerHealth(sab, 2), RangeError);
});
