// `legate top`'s arithmetic: rates over the snapshots' own clock, and the frame's columns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PoolJson, ServerJson, StatsJson } from '../../engine/admin/admin-server.ts';
import { PLAIN, RateTracker, renderFrame } from '../../engine/cli/top.ts';
import { emptyPoolCounters, emptyServerCounters } from '../../engine/metrics/snapshot.ts';

const latency = (p50: number, p99: number, max: number, count = 10) => ({
  count,
  p50,
  p90: p99,
  p99,
  'p99.9': max,
  max,
  mean: p50,
});

function server(name: string, requests: number, extra: Partial<ServerJson> = {}): ServerJson {
  return {
    ...emptyServerCounters(),
    name,
    ejected: false,
    ejects: 0,
    ejected_at: 0,
    requests,
    responses: requests,
    server_connections: 2,
    latency_us: latency(40, 900, 12_500),
    // The frame shows the recent window, not the since-start figures.
    recent_latency_us: latency(30, 700, 9_000),
    ...extra,
  };
}

function doc(at: number, requests: number, servers: ServerJson[], forwardError = 0): StatsJson {
  const pool: PoolJson = {
    ...emptyPoolCounters(),
    name: 'web',
    requests,
    forward_error: forwardError,
    client_connections: 7,
    updated_at_ms: at,
    latency_us: latency(55, 1_250, 250_000),
    recent_latency_us: latency(46, 1_000, 100_000),
    recent_window_s: 10,
    servers,
  };
  return {
    service: 'legate',
    version: '9.9.9',
    uptime_s: 3723,
    workers: 2,
    workers_ready: 2,
    latency_unit: 'us',
    pools: [pool],
  };
}

test('rates are counter differences over the snapshots’ time, kept while no snapshot lands', () => {
  const t = new RateTracker();
  t.update(doc(10_000, 100, [server('a', 60), server('b', 40)]));
  assert.equal(t.rate('web'), undefined, 'no rate from one sample');
  t.update(doc(10_500, 600, [server('a', 360), server('b', 240, { server_err: 2 })], 3));
  assert.deepEqual(t.rate('web'), { ops: 1000, errors: 10 });
  assert.deepEqual(t.rate('web', 'a'), { ops: 600, errors: 0 });
  assert.deepEqual(t.rate('web', 'b'), { ops: 400, errors: 4 });
  // Polled again before the next snapshot: the same document; the rate stands.
  t.update(doc(10_500, 600, [server('a', 360), server('b', 240, { server_err: 2 })], 3));
  assert.deepEqual(t.rate('web'), { ops: 1000, errors: 10 });
  // legate restarted: counters went down; no rate until two new samples.
  t.update(doc(11_000, 5, [server('a', 5), server('b', 0)]));
  assert.equal(t.rate('web'), undefined);
  t.update(doc(12_000, 105, [server('a', 55), server('b', 50)]));
  assert.deepEqual(t.rate('web'), { ops: 100, errors: 0 });
});

test('a frame: header, pool row, server rows, latency in ms, ejected servers marked', () => {
  const t = new RateTracker();
  t.update(doc(1000, 0, [server('127.0.0.1:7001', 0), server('127.0.0.1:7002', 0)]));
  t.update(
    doc(2000, 2500, [
      server('127.0.0.1:7001', 2500),
      server('127.0.0.1:7002', 0, { ejected: true, server_connections: 0 }),
    ]),
  );
  const frame = renderFrame(
    doc(2000, 2500, [
      server('127.0.0.1:7001', 2500),
      server('127.0.0.1:7002', 0, { ejected: true, server_connections: 0 }),
    ]),
    t,
    '127.0.0.1:9909',
    PLAIN,
  );
  assert.equal(
    frame,
    [
      'legate 9.9.9  up 1h02m03s  workers 2/2  admin 127.0.0.1:9909',
      'latency: the last 10 s; ops/s and errors/s: since the last snapshot',
      '',
      'POOL / SERVER     OPS/S  ERR/S  P50ms  P99ms  MAXms  CONNS  STATE',
      'web                2500    0.0   0.05   1.00    100      7  1/2 live',
      '  127.0.0.1:7001   2500    0.0   0.03   0.70   9.00      2  live',
      '  127.0.0.1:7002    0.0    0.0   0.03   0.70   9.00      0  EJECTED',
      '',
    ].join('\n'),
  );
});
