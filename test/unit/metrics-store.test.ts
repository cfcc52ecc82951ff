// The main thread's merge of worker snapshots: counters and HDR histograms add up, gauges of a
// dead worker go with it, and replaced workers' numbers stay counted however many there were.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeHistogram, latencyHistogram, recordMicros } from '../../engine/metrics/histogram.ts';
import {
  emptyPoolCounters,
  emptyServerCounters,
  type WorkerSnapshot,
} from '../../engine/metrics/snapshot.ts';
import { MetricsStore } from '../../engine/metrics/store.ts';

const ORDER = [{ name: 'web', servers: ['a', 'b'] }];

function snapshot(worker: number, at: number, requests: number, micros: number): WorkerSnapshot {
  const h = latencyHistogram();
  for (let i = 0; i < requests; i++) recordMicros(h, micros);
  const latency = encodeHistogram(h);
  return {
    worker,
    at,
    pools: [
      {
        name: 'web',
        counters: { ...emptyPoolCounters(), requests, client_connections: 3 },
        latency,
        servers: [
          {
            name: 'a',
            counters: { ...emptyServerCounters(), requests, responses: requests, in_queue: 1 },
            latency,
          },
        ],
      },
    ],
  };
}

test('live workers add up; the time is the mean of their snapshots', () => {
  const store = new MetricsStore();
  store.update(snapshot(0, 1000, 10, 100));
  store.update(snapshot(1, 2000, 30, 5000));
  const [web] = store.view(ORDER);
  assert.equal(web.counters.requests, 40);
  assert.equal(web.counters.client_connections, 6);
  assert.equal(web.latency.totalCount, 40);
  assert.ok(web.latency.getValueAtPercentile(99) >= 4990);
  assert.equal(web.updatedAt, 1500);
  assert.equal(web.servers[0].counters.in_queue, 2);
  assert.equal(web.servers[1].counters.requests, 0, 'a server no worker used');
  assert.equal(store.view(ORDER)[0].counters.requests, 40, 'a view changes nothing');
});

test('a replaced worker keeps its counters and latency, not its gauges, through many restarts', () => {
  const store = new MetricsStore();
  for (let restart = 0; restart < 50; restart++) {
    store.update(snapshot(0, 1000 + restart, 2, 100));
    store.retire(0);
  }
  store.update(snapshot(0, 9000, 1, 100));
  const [web] = store.view(ORDER);
  assert.equal(web.counters.requests, 101);
  assert.equal(web.latency.totalCount, 101);
  assert.equal(web.counters.client_connections, 3, 'only the live worker’s clients');
  assert.equal(web.servers[0].counters.responses, 101);
  assert.equal(web.servers[0].counters.in_queue, 1);
  assert.equal(web.servers[0].latency.totalCount, 101);
  assert.equal(web.updatedAt, 9000, 'only live workers date the numbers');
});
