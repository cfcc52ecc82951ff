import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { allocateHttpPeers, HttpPeerHealth } from '../../engine/shared/http-peers-memory.ts';
import { createBalancer } from '../../workers/http/balance/balancer.ts';
import { PickState } from '../../workers/http/balance/peers.ts';
import { upstreamOf } from '../helpers/http-peers.ts';

test('failures and connections counted in one worker are seen by every worker', async () => {
  const sab = allocateHttpPeers(3);
  const run = (requests: number, hold: number) =>
    new Promise<number[]>((resolve, reject) => {
      const w = new Worker(new URL('../helpers/http-peers-worker.ts', import.meta.url), {
        workerData: { sab, requests, hold },
      });
      w.once('message', resolve);
      w.once('error', reject);
    });
  const counts = await Promise.all([run(300, 2), run(300, 2), run(300, 2)]);
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
  assert.equal(conns[b.pick(state, b.peers.now())], Math.min(...conns));
});

test('a failed peer stays out for fail_timeout, and a success after it clears the count', () => {
  const health = new HttpPeerHealth(allocateHttpPeers(1, 0));
  health.acquire(0, 10000, 5);
  health.release(0, true, 5);
  assert.equal(health.isFailed(0, 1, 10000, 10005), true);
  assert.equal(health.isFailed(0, 1, 10000, 10006), false);
  assert.equal(health.isFailed(0, 0, 10000, 6), false, 'max_fails=0 never fails a peer');
  health.acquire(0, 10000, 20000);
  health.release(0, false, 20000);
  assert.equal(health.fails(0), 0);
  assert.equal(health.conns(0), 0);
  assert.equal(health.now(1234), 1234);
});
