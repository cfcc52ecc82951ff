// The main thread's merge of worker snapshots: counters and HDR histograms add up, gauges of a
// dead worker go with it, and replaced workers' numbers stay counted however many there were.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeHistogram,
  latencyHistogram,
  percentileOf,
  recordMicros,
} from '../../engine/metrics/histogram.ts';
import {
  emptyPoolCounters,
  emptyServerCounters,
  type WorkerSnapshot,
} from '../../engine/metrics/snapshot.ts';
import { MetricsStore } from '../../engine/metrics/store.ts';

const ORDER = [{ name: 'web', servers: ['a', 'b'] }];

/** A worker's cumulative snapshot: `batches` of (count, micros) recorded so far, `requests` counted. */
function cumulative(
  worker: number,
  at: number,
  batches: readonly [number, number][],
  requests = 0,
): WorkerSnapshot {
  const h = latencyHistogram();
  for (const [count, micros] of batches) for (let i = 0; i < count; i++) recordMicros(h, micros);
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

function snapshot(worker: number, at: number, requests: number, micros: number): WorkerSnapshot {
  return cumulative(worker, at, [[requests, micros]], requests);
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

test('recent latency: what each worker recorded within the window, not since start', () => {
  const store = new MetricsStore(10_000);
  // Worker 0: 100 slow requests early on, then 50 fast ones; worker 1: 20 fast ones late.
  store.update(cumulative(0, 0, []));
  store.update(cumulative(0, 5_000, [[100, 50_000]]));
  store.update(cumulative(0, 16_000, [[100, 50_000]]));
  store.update(
    cumulative(0, 20_000, [
      [100, 50_000],
      [50, 200],
    ]),
  );
  store.update(cumulative(1, 19_000, []));
  store.update(cumulative(1, 20_000, [[20, 300]]));
  const [web] = store.recent(ORDER);
  // Worker 0's base is its snapshot at 5 s (the newest at least 10 s before 20 s): the slow
  // requests are before it. Worker 1's base is its first snapshot.
  assert.equal(web.latency.totalCount, 70);
  assert.ok(web.latency.maxValue < 1000, `max ${web.latency.maxValue} µs`);
  assert.equal(web.windowMs, (15_000 + 1_000) / 2);
  assert.equal(web.servers[0].totalCount, 70);
  assert.equal(web.servers[1].totalCount, 0, 'server b: no worker used it');
  // Since start, the slow ones are all there.
  assert.equal(store.view(ORDER)[0].latency.totalCount, 170);
});

test('recent latency: a replaced worker starts a new window; an idle one has none', () => {
  const store = new MetricsStore(1_000);
  store.update(cumulative(0, 0, [[10, 100]]));
  store.update(cumulative(0, 2_000, [[10, 100]]));
  store.update(cumulative(0, 3_500, [[10, 100]]));
  assert.equal(store.recent(ORDER)[0].latency.totalCount, 0, 'nothing new in the window');
  store.retire(0);
  // The replacement counts from zero; its numbers must not be read against the old base.
  store.update(cumulative(0, 4_000, [[3, 100]]));
  assert.equal(store.recent(ORDER)[0].latency.totalCount, 3);
  assert.equal(store.view(ORDER)[0].latency.totalCount, 13);
});

test('a server whose counters start again in a live worker keeps its total (never decreases)', () => {
  const store = new MetricsStore(10_000);
  store.update(snapshot(0, 1_000, 40, 100));
  store.update(snapshot(0, 2_000, 50, 100));
  // The worker's pool and server objects were replaced: they count from zero again.
  store.update(snapshot(0, 3_000, 5, 100));
  const [web] = store.view(ORDER);
  assert.equal(web.counters.requests, 55);
  assert.equal(web.latency.totalCount, 55);
  assert.equal(web.servers[0].counters.responses, 55);
  assert.equal(web.servers[0].latency.totalCount, 55);
  assert.equal(web.servers[0].counters.in_queue, 1, 'gauges are the live ones only');
  // The window's base (50 recorded) is not contained in the new cumulative (5): only those count.
  const [recent] = store.recent(ORDER);
  assert.equal(recent.latency.totalCount, 5);
  assert.equal(recent.servers[0].totalCount, 5);
  assert.ok(recent.latency.getValueAtPercentile(50) <= recent.latency.maxValue);
});

test('a server that leaves a worker’s snapshot is folded in; it counts on if it comes back', () => {
  const store = new MetricsStore(10_000);
  store.update(snapshot(0, 1_000, 30, 100));
  const without = snapshot(0, 2_000, 30, 100);
  store.update({ ...without, pools: [{ ...without.pools[0], servers: [] }] });
  assert.equal(store.view(ORDER)[0].servers[0].counters.responses, 30, 'kept while away');
  assert.equal(store.view(ORDER)[0].servers[0].counters.in_queue, 0, 'its gauges are gone');
  assert.deepEqual(
    store.view([{ name: 'web', servers: ['b'] }])[0].servers.map((s) => s.name),
    ['b'],
    'a server not in the running config is not reported',
  );
  // Back, counting from zero: the total goes on from 30.
  store.update(snapshot(0, 3_000, 4, 100));
  const [web] = store.view(ORDER);
  assert.equal(web.servers[0].counters.responses, 34);
  assert.equal(web.servers[0].latency.totalCount, 34);
  assert.equal(web.counters.requests, 34, 'the pool’s counter went back too: folded');
});

test('recent latency: a base with counts the latest lacks gives no negative counts', () => {
  const store = new MetricsStore(10_000);
  store.update(cumulative(0, 0, [[10, 50_000]], 10));
  // Reset and then more recorded than before, elsewhere: the totals alone would not show it.
  store.update(cumulative(0, 1_000, [[20, 100]], 20));
  const [recent] = store.recent(ORDER);
  assert.equal(recent.latency.totalCount, 20);
  assert.ok(recent.latency.maxValue < 1000, `max ${recent.latency.maxValue}`);
  assert.ok(recent.latency.getValueAtPercentile(50) <= recent.latency.maxValue);
});

test('percentiles of a histogram with corrupt counts stay numbers between 0 and its max', () => {
  // What subtracting a pre-reset histogram used to build: negative counts, added into another.
  const h = latencyHistogram();
  for (let i = 0; i < 10; i++) recordMicros(h, 100);
  const bigger = latencyHistogram();
  for (let i = 0; i < 20; i++) recordMicros(bigger, 5000);
  h.subtract(bigger);
  const merged = latencyHistogram();
  merged.add(h);
  assert.ok(merged.getValueAtPercentile(50) > merged.maxValue, 'hdr itself answers garbage');
  for (const p of [50, 90, 99, 99.9]) {
    const v = percentileOf(merged, p);
    assert.ok(Number.isFinite(v) && v >= 0 && v <= merged.maxValue, `p${p} = ${v}`);
  }
  assert.equal(percentileOf(h, 50), 0, 'a negative total has no percentile');
  assert.equal(percentileOf(latencyHistogram(), 99), 0, 'nor an empty one');
});
