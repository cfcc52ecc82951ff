// The breaker on the HTTP data plane: Envoy's limits, outlier detection, panic threshold,
// retries and timeouts, and the classic circuit, against a real node:http backend the tests
// switch between healthy, failing, hanging and slow; two proxy units share the breaker memory
// as two workers do.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  CLASSIC_BREAKER_DEFAULTS,
  ENVOY_OUTLIER,
  type RetryOn,
} from '../../engine/config/http-types.ts';
import { guardBuffers, reloadGuardStates } from '../../engine/health/guard-state.ts';
import { createLogger } from '../../engine/log.ts';
import { breakerJson, breakerPrometheus } from '../../engine/metrics/breaker-stats.ts';
import { C } from '../../engine/shared/breaker-memory.ts';
import type { HttpProxy } from '../../workers/http/proxy.ts';
import {
  ControlledBackend,
  get,
  guardedConfig,
  limitsOf,
  type Mode,
  NO_LIMITS,
  OVERFLOW_BODY,
  retryPolicy,
  startGuarded,
  startGuardedWorkers,
} from '../helpers/breaker.ts';
import { freePort } from '../helpers/processes.ts';

const running: { proxies: HttpProxy[] }[] = [];
const backends: ControlledBackend[] = [];

after(async () => {
  for (const r of running) for (const p of r.proxies) await p.close();
  for (const b of backends) await b.stop();
});

async function backend(): Promise<ControlledBackend> {
  const b = await ControlledBackend.start();
  backends.push(b);
  return b;
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('max_requests across two units: never more in flight than the limit; the rest get Envoy overflow', async () => {
  const b = await backend();
  b.mode = 'hang';
  const limits = { ...NO_LIMITS, maxRequests: 3 };
  const run = await startGuarded(
    (port) =>
      guardedConfig(port, [b.port], {
        limits: limitsOf(limits),
      }),
    2,
  );
  running.push(run);
  const answers = Array.from({ length: 12 }, () => get(run.port));
  await until(() => b.hits === 3);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(b.hits, 3, 'no fourth request reached the backend');
  b.releaseHung();
  const all = await Promise.all(answers);
  const overflow = all.filter((a) => a.status === 503);
  assert.equal(all.filter((a) => a.status === 200).length, 3);
  assert.equal(overflow.length, 9);
  for (const a of overflow) {
    assert.equal(a.headers.get('x-envoy-overloaded'), 'true');
    assert.equal(a.headers.get('content-type'), 'text/plain');
    assert.equal(a.body, OVERFLOW_BODY);
  }
  assert.equal(b.maxInFlight, 3);
  const mem = [...run.states.values()][0].mem;
  assert.equal(mem.load(C.RQ), 0, 'every slot given back');
});

test('200 requests from two units against max_requests 5: the backend never sees a sixth', async () => {
  const b = await backend();
  b.mode = { slowMs: 20 };
  const limits = { ...NO_LIMITS, maxRequests: 5 };
  const run = await startGuarded(
    (port) =>
      guardedConfig(port, [b.port], {
        limits: limitsOf(limits),
      }),
    2,
  );
  running.push(run);
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let i = 0; i < 10; i++) statuses.push((await get(run.port)).status);
    }),
  );
  assert.equal(statuses.length, 200);
  assert.equal(
    statuses.filter((s) => s === 200).length + statuses.filter((s) => s === 503).length,
    200,
  );
  assert.ok(b.maxInFlight <= 5, `at most 5 in flight at the backend, saw ${b.maxInFlight}`);
  assert.equal(
    b.hits,
    statuses.filter((s) => s === 200).length,
    'every 503 was answered by legate, not the backend',
  );
  assert.ok(statuses.includes(503), 'the limit was reached');
});

test('max_connections: the overflow waits as pending (not failed); max_pending_requests bounds the wait', async () => {
  const b = await backend();
  b.mode = { slowMs: 150 };
  const limits = { ...NO_LIMITS, maxConnections: 1, maxPendingRequests: 2 };
  const run = await startGuarded(
    (port) =>
      guardedConfig(port, [b.port], {
        limits: limitsOf(limits),
      }),
    2,
  );
  running.push(run);
  const all = await Promise.all(Array.from({ length: 6 }, () => get(run.port)));
  const ok = all.filter((a) => a.status === 200).length;
  const over = all.filter(
    (a) => a.status === 503 && a.headers.get('x-envoy-overloaded') === 'true',
  ).length;
  assert.equal(ok + over, 6);
  assert.equal(ok, 3, 'one active and two pending pass');
  assert.equal(b.maxInFlight, 1, 'one connection at a time');
  const mem = [...run.states.values()][0].mem;
  assert.ok(mem.load(C.CX_OVERFLOW) >= 1);
  assert.equal(mem.load(C.PENDING), 0);
});

test('classic circuit: opens after minimum calls at the failure rate, answers at once, probes exactly N, closes', async () => {
  const b = await backend();
  b.mode = 500;
  const breaker = {
    ...CLASSIC_BREAKER_DEFAULTS,
    window: { kind: 'count' as const, size: 10 },
    minimumCalls: 4,
    failureRateThreshold: 50,
    openMs: 400,
    halfOpenCalls: 2,
  };
  const logFile = join(mkdtempSync(join(tmpdir(), 'legate-breaker-log-')), 'log.json');
  const run = await startGuarded(
    (port) => guardedConfig(port, [b.port], { breaker }),
    2,
    createLogger('info', {}, logFile),
  );
  running.push(run);
  for (let i = 0; i < 4; i++) assert.equal((await get(run.port)).status, 500);
  const hits = b.hits;
  const open = await get(run.port);
  assert.equal(open.status, 503);
  assert.equal(open.headers.get('x-legate-circuit'), 'open');
  assert.equal(open.headers.get('retry-after'), '1');
  assert.equal(b.hits, hits, 'the backend was not touched');
  const openedAt = Date.now();
  const stats = breakerJson([...run.states.values()][0], Date.now());
  const [circuit] = stats.circuits;
  assert.equal(circuit.state, 'open');
  assert.ok(
    circuit.next_probe_in_ms !== null &&
      circuit.next_probe_in_ms <= 400 &&
      circuit.next_probe_in_ms > 200,
  );
  assert.deepEqual(circuit.transitions, { to_open: 1, to_half_open: 0, to_closed: 0 });
  assert.equal(circuit.rejected, 1);
  const metrics = breakerPrometheus([...run.states.values()], Date.now());
  assert.match(metrics, /^legate_http_circuit_state\{upstream="backend",circuit="backend"\} 1$/m);
  assert.match(
    metrics,
    /^legate_http_circuit_transitions_total\{upstream="backend",circuit="backend",to="open"\} 1$/m,
  );
  const promtool = spawnSync('promtool', ['check', 'metrics'], {
    input: metrics,
    encoding: 'utf8',
  });
  assert.equal(promtool.status, 0, promtool.stderr + promtool.stdout);
  b.mode = { slowMs: 150 };
  while (Date.now() - openedAt < 420) await new Promise((r) => setTimeout(r, 20));
  const burst = await Promise.all(Array.from({ length: 6 }, () => get(run.port)));
  assert.equal(burst.filter((a) => a.status === 200).length, 2, 'exactly two probes passed');
  assert.equal(
    burst.filter((a) => a.headers.get('x-legate-circuit') === 'half-open').length,
    4,
    'the rest fail fast, told the circuit is half-open',
  );
  assert.equal((await get(run.port)).status, 200, 'the probes closed the circuit');
  const after = breakerJson([...run.states.values()][0], Date.now()).circuits[0];
  assert.equal(after.state, 'closed');
  assert.deepEqual(after.transitions, { to_open: 1, to_half_open: 1, to_closed: 1 });
  const logged = readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as {
          level: number;
          msg: string;
          from?: string;
          to?: string;
          upstream?: string;
        },
    );
  assert.deepEqual(
    logged
      .filter((l) => l.msg.startsWith('circuit'))
      .map((l) => [l.level, l.upstream, l.from, l.to]),
    [
      [40, 'backend', 'closed', 'open'],
      [40, 'backend', 'open', 'half_open'],
      [40, 'backend', 'half_open', 'closed'],
    ],
    'every transition logged once (warn), whichever unit made it',
  );
});

test('reload keeps an open circuit open (same servers), and starts over when the servers change', async () => {
  const b = await backend();
  const other = await backend();
  b.mode = 500;
  const breaker = {
    ...CLASSIC_BREAKER_DEFAULTS,
    window: { kind: 'count' as const, size: 4 },
    minimumCalls: 2,
    openMs: 60_000,
    halfOpenCalls: 1,
  };
  const outlier = { ...ENVOY_OUTLIER, consecutive5xx: 100 };
  const run = await startGuarded((port) => guardedConfig(port, [b.port], { breaker, outlier }));
  running.push(run);
  const log = run.proxies[0].log;
  for (const s of run.states.values()) s.start(log);
  await get(run.port);
  await get(run.port);
  assert.equal((await get(run.port)).headers.get('x-legate-circuit'), 'open');
  const config = run.proxies[0].config;
  const kept = reloadGuardStates(run.states, config, 1, log);
  const [before] = run.states.values();
  const [after] = kept.values();
  assert.equal(after.mem, before.mem, 'the same shared memory');
  assert.ok(!before.running && after.running, 'one interval timer: the old one stopped');
  run.proxies[0].reconfigure(config, { ...run.shared, guards: guardBuffers(kept) });
  const hits = b.hits;
  assert.equal(
    (await get(run.port)).headers.get('x-legate-circuit'),
    'open',
    'still open after the reload',
  );
  assert.equal(b.hits, hits);
  const moved = guardedConfig(run.proxies[0].ports()[0], [other.port], { breaker, outlier });
  const fresh = reloadGuardStates(kept, moved, 1, log);
  assert.notEqual([...fresh.values()][0].mem, after.mem);
  run.proxies[0].reconfigure(moved, { ...run.shared, guards: guardBuffers(fresh) });
  assert.equal((await get(run.port)).status, 200, 'a new server set has a new, closed circuit');
  for (const s of fresh.values()) s.stop();
});

test('track_remaining publishes remaining_* while requests are in flight', async () => {
  const b = await backend();
  b.mode = 'hang';
  const limits = {
    ...NO_LIMITS,
    maxRequests: 5,
    maxConnections: 10,
    maxPendingRequests: 10,
    maxRetries: 3,
    trackRemaining: true,
  };
  const run = await startGuarded((port) =>
    guardedConfig(port, [b.port], {
      limits: limitsOf(limits),
    }),
  );
  running.push(run);
  const answers = [get(run.port), get(run.port)];
  await until(() => b.hits === 2);
  const cb = breakerJson([...run.states.values()][0], Date.now()).circuit_breakers;
  assert.deepEqual(cb, {
    cx_open: 0,
    rq_pending_open: 0,
    rq_open: 0,
    rq_retry_open: 0,
    remaining_cx: 8,
    remaining_pending: 10,
    remaining_rq: 3,
    remaining_retries: 3,
  });
  b.releaseHung();
  await Promise.all(answers);
});

test('outlier detection: a cluster of one host is never ejected with Envoy defaults', async () => {
  const b = await backend();
  b.mode = 503;
  const run = await startGuarded((port) =>
    guardedConfig(port, [b.port], { outlier: ENVOY_OUTLIER }),
  );
  running.push(run);
  for (let i = 0; i < 8; i++) assert.equal((await get(run.port)).status, 503);
  assert.equal(b.hits, 8);
});

test('outlier detection: consecutive 5xx ejects the failing host; traffic goes to the healthy one', async () => {
  const bad = await backend();
  const good = await backend();
  bad.mode = 500;
  const outlier = {
    ...ENVOY_OUTLIER,
    consecutive5xx: 3,
    maxEjectionPercent: 100,
    intervalMs: 100,
    baseEjectionTimeMs: 300,
  };
  const run = await startGuarded((port) => guardedConfig(port, [bad.port, good.port], { outlier }));
  running.push(run);
  const state = [...run.states.values()][0];
  state.start(run.proxies[0].log);
  for (let i = 0; i < 8 && bad.hits < 3; i++) await get(run.port);
  assert.equal(bad.hits, 3);
  assert.equal(state.mem.isEjected(0), true);
  for (let i = 0; i < 6; i++) assert.equal((await get(run.port)).status, 200);
  assert.equal(bad.hits, 3, 'the ejected host got nothing');
  const ejectedAt = Date.now();
  await until(() => !state.mem.isEjected(0), 2000);
  const lasted = Date.now() - ejectedAt;
  assert.ok(
    lasted >= 250 && lasted < 700,
    `released after base_ejection_time on an interval tick (${lasted} ms)`,
  );
  state.stop();
});

test('panic threshold: with every host ejected, 50% routes to them anyway; 0 answers no healthy upstream', async () => {
  const b = await backend();
  b.mode = 500;
  const outlier = { ...ENVOY_OUTLIER, consecutive5xx: 2, maxEjectionPercent: 100 };
  const panic = await startGuarded((port) =>
    guardedConfig(port, [b.port], { outlier, panicThreshold: 50 }),
  );
  running.push(panic);
  await get(panic.port);
  await get(panic.port);
  assert.equal([...panic.states.values()][0].mem.isEjected(0), true);
  const before = b.hits;
  assert.equal((await get(panic.port)).status, 500, 'in panic the ejected host still gets traffic');
  assert.equal(b.hits, before + 1);
  const strict = await startGuarded((port) =>
    guardedConfig(port, [b.port], { outlier, panicThreshold: 0 }),
  );
  running.push(strict);
  await get(strict.port);
  await get(strict.port);
  const hits = b.hits;
  const none = await get(strict.port);
  assert.equal(none.status, 503);
  assert.equal(none.body, 'no healthy upstream');
  assert.equal(none.headers.get('x-envoy-overloaded'), null);
  assert.equal(b.hits, hits);
});

test('retries: retry_on 5xx retries GET up to num_retries; POST is not retried', async () => {
  const b = await backend();
  b.mode = 503;
  const run = await startGuarded((port) =>
    guardedConfig(
      port,
      [b.port],
      { limits: null },
      { timeoutMs: 5000, retry: retryPolicy({ retryOn: ['5xx'], numRetries: 2 }) },
    ),
  );
  running.push(run);
  assert.equal((await get(run.port)).status, 503);
  assert.equal(b.hits, 3, 'one try and two retries');
  assert.equal((await get(run.port, '/', 'POST')).status, 503);
  assert.equal(b.hits, 4, 'POST tried once');
});

test('route timeout: 504 upstream request timeout when the backend hangs', async () => {
  const b = await backend();
  b.mode = 'hang';
  const run = await startGuarded((port) =>
    guardedConfig(port, [b.port], {}, { timeoutMs: 200, retry: null }),
  );
  running.push(run);
  const a = await get(run.port);
  assert.equal(a.status, 504);
  assert.equal(a.body, 'upstream request timeout');
  assert.ok(a.ms >= 190 && a.ms < 1000, `${a.ms} ms`);
});

test('connect refused: Envoy 503 body; retried with connect-failure, then "retried and the latest"', async () => {
  const closed = await freePort();
  const run = await startGuarded((port) =>
    guardedConfig(
      port,
      [closed],
      {},
      { timeoutMs: 2000, retry: retryPolicy({ retryOn: ['connect-failure'], numRetries: 1 }) },
    ),
  );
  running.push(run);
  const a = await get(run.port);
  assert.equal(a.status, 503);
  assert.equal(
    a.body,
    'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: 111',
  );
});

test('per_try_timeout: each try is cut at its timeout and retried; the last answers 504', async () => {
  const b = await backend();
  b.mode = { slowMs: 400 };
  const run = await startGuarded((port) =>
    guardedConfig(
      port,
      [b.port],
      {},
      {
        timeoutMs: 2000,
        retry: retryPolicy({ retryOn: ['5xx'], numRetries: 1, perTryTimeoutMs: 100 }),
      },
    ),
  );
  running.push(run);
  const a = await get(run.port);
  assert.equal(a.status, 504);
  assert.equal(a.body, 'upstream request timeout');
  assert.equal(b.hits, 2);
  assert.ok(
    a.ms >= 190 && a.ms < 500,
    `two tries of 100 ms and a backoff under 25 ms (${a.ms} ms)`,
  );
});

test('max_retries 0: the retry is skipped (counted as retry overflow) and the 503 passes through', async () => {
  const b = await backend();
  b.mode = 503;
  const limits = { ...NO_LIMITS, maxRetries: 0 };
  const run = await startGuarded((port) =>
    guardedConfig(
      port,
      [b.port],
      {
        limits: limitsOf(limits),
      },
      { timeoutMs: 2000, retry: retryPolicy({ retryOn: ['5xx'], numRetries: 3 }) },
    ),
  );
  running.push(run);
  const a = await get(run.port);
  assert.equal(a.status, 503);
  assert.equal(a.body, 'no', "the backend's own answer");
  assert.equal(b.hits, 1);
  assert.equal([...run.states.values()][0].mem.load(C.RETRY_OVERFLOW), 1);
});

test('retry budget: min_retry_concurrency 0 and 20% of one request allows no retry', async () => {
  const b = await backend();
  b.mode = 503;
  const limits = { ...NO_LIMITS, retryBudget: { budgetPercent: 20, minRetryConcurrency: 0 } };
  const run = await startGuarded((port) =>
    guardedConfig(
      port,
      [b.port],
      {
        limits: limitsOf(limits),
      },
      { timeoutMs: 2000, retry: retryPolicy({ retryOn: ['5xx'], numRetries: 3 }) },
    ),
  );
  running.push(run);
  assert.equal((await get(run.port)).status, 503);
  assert.equal(b.hits, 1);
});

test('an overflow is never retried and never counts against the host', async () => {
  const b = await backend();
  b.mode = 'hang';
  const limits = { ...NO_LIMITS, maxRequests: 1 };
  const outlier = { ...ENVOY_OUTLIER, consecutive5xx: 1, maxEjectionPercent: 100 };
  const run = await startGuarded((port) =>
    guardedConfig(
      port,
      [b.port],
      {
        outlier,
        limits: limitsOf(limits),
      },
      {
        timeoutMs: 5000,
        retry: retryPolicy({ retryOn: ['5xx', 'gateway-error', 'reset'], numRetries: 3 }),
      },
    ),
  );
  running.push(run);
  const first = get(run.port);
  await until(() => b.hits === 1);
  const over = await get(run.port);
  assert.equal(over.status, 503);
  assert.equal(over.headers.get('x-envoy-overloaded'), 'true');
  const mem = [...run.states.values()][0].mem;
  assert.equal(mem.isEjected(0), false, 'consecutive_5xx 1 would have ejected on a counted 503');
  assert.equal(b.hits, 1);
  b.releaseHung();
  assert.equal((await first).status, 200);
});

test('classic circuit: connect failures open it, and it answers without trying to connect', async () => {
  const closed = await freePort();
  const breaker = {
    ...CLASSIC_BREAKER_DEFAULTS,
    window: { kind: 'count' as const, size: 5 },
    minimumCalls: 3,
    openMs: 30_000,
  };
  const run = await startGuarded((port) => guardedConfig(port, [closed], { breaker }));
  running.push(run);
  for (let i = 0; i < 3; i++) assert.match((await get(run.port)).body, /remote connection failure/);
  const open = await get(run.port);
  assert.equal(open.headers.get('x-legate-circuit'), 'open');
  assert.equal(open.headers.get('retry-after'), '30');
  assert.ok(open.ms < 50, `answered at once (${open.ms} ms)`);
});

test('classic circuit: slow calls over the threshold open it', async () => {
  const b = await backend();
  b.mode = { slowMs: 120 };
  const breaker = {
    ...CLASSIC_BREAKER_DEFAULTS,
    window: { kind: 'time' as const, size: 10 },
    minimumCalls: 3,
    slowCallMs: 100,
    slowCallRateThreshold: 100,
    openMs: 30_000,
  };
  const run = await startGuarded((port) => guardedConfig(port, [b.port], { breaker }));
  running.push(run);
  for (let i = 0; i < 3; i++) assert.equal((await get(run.port)).status, 200, 'slow, but answered');
  assert.equal((await get(run.port)).headers.get('x-legate-circuit'), 'open');
});

test('per-host circuits: the failing host is skipped; with both open, 503 at once', async () => {
  const bad = await backend();
  const good = await backend();
  bad.mode = 500;
  const breaker = {
    ...CLASSIC_BREAKER_DEFAULTS,
    scope: 'host' as const,
    window: { kind: 'count' as const, size: 4 },
    minimumCalls: 2,
    openMs: 30_000,
  };
  const run = await startGuarded((port) => guardedConfig(port, [bad.port, good.port], { breaker }));
  running.push(run);
  for (let i = 0; i < 6; i++) await get(run.port);
  assert.equal(bad.hits, 2, 'two failures opened its circuit');
  const before = good.hits;
  for (let i = 0; i < 4; i++) assert.equal((await get(run.port)).status, 200);
  assert.equal(good.hits, before + 4);
  assert.equal(bad.hits, 2);
  good.mode = 500;
  for (let i = 0; i < 2; i++) await get(run.port);
  const open = await get(run.port);
  assert.equal(open.headers.get('x-legate-circuit'), 'open');
});

test('outlier ejection doubles: base, then 2 × base, each ended on an interval tick', async () => {
  const b = await backend();
  const good = await backend();
  b.mode = 500;
  const outlier = {
    ...ENVOY_OUTLIER,
    consecutive5xx: 1,
    maxEjectionPercent: 50,
    intervalMs: 50,
    baseEjectionTimeMs: 200,
  };
  const run = await startGuarded((port) => guardedConfig(port, [b.port, good.port], { outlier }));
  running.push(run);
  const state = [...run.states.values()][0];
  state.start(run.proxies[0].log);
  const lasted: number[] = [];
  for (let round = 0; round < 2; round++) {
    while (!state.mem.isEjected(0)) await get(run.port);
    const at = Date.now();
    await until(() => !state.mem.isEjected(0), 3000);
    lasted.push(Date.now() - at);
  }
  state.stop();
  assert.ok(lasted[0] >= 190 && lasted[0] < 350, `first ejection ${lasted[0]} ms (base 200)`);
  assert.ok(lasted[1] >= 390 && lasted[1] < 600, `second ejection ${lasted[1]} ms (2 × base)`);
});

test('two worker threads under load: max_requests and max_connections hold', async () => {
  const b = await backend();
  b.mode = { slowMs: 15 };
  const limits = { ...NO_LIMITS, maxRequests: 2, maxConnections: 3, maxPendingRequests: 50 };
  const run = await startGuardedWorkers(
    (port) =>
      guardedConfig(port, [b.port], {
        limits: limitsOf(limits),
      }),
    2,
  );
  const mem = [...run.states.values()][0].mem;
  // Connections as legate counts them, sampled: the backend's own count lags a close legate has
  // finished (its event loop sees the FIN later), so it can show one more for an instant.
  let maxCx = 0;
  const sampler = setInterval(() => {
    maxCx = Math.max(maxCx, mem.load(C.CX));
  }, 1);
  try {
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        for (let i = 0; i < 8; i++) statuses.push((await get(run.port)).status);
      }),
    );
    assert.equal(statuses.length, 240);
    const ok = statuses.filter((s) => s === 200).length;
    assert.equal(ok + statuses.filter((s) => s === 503).length, 240);
    assert.ok(ok > 0 && ok < 240, `${ok} answered by the backend, the rest overflowed`);
    assert.ok(b.maxInFlight <= 2, `requests in flight at the backend: ${b.maxInFlight}`);
    assert.ok(maxCx <= 3, `connections: ${maxCx}`);
    assert.equal(mem.load(C.RQ), 0);
    assert.equal(mem.load(C.PENDING), 0);
  } finally {
    clearInterval(sampler);
    await run.stop();
  }
});

test('ROUND_ROBIN honours load_balancing_weight: weights 3 and 1 take 6 and 2 of 8 requests', async () => {
  const a = await backend();
  const b = await backend();
  const run = await startGuarded((port) => {
    const config = guardedConfig(port, [a.port, b.port], {});
    const [u] = config.upstreams;
    return {
      ...config,
      upstreams: [{ ...u, servers: [{ ...u.servers[0], weight: 3 }, u.servers[1]] }],
    };
  });
  running.push(run);
  for (let i = 0; i < 8; i++) assert.equal((await get(run.port)).status, 200);
  assert.deepEqual([a.hits, b.hits], [6, 2]);
});

test('clients that leave give back their slots: active, pending, and the connection', async () => {
  const b = await backend();
  b.mode = 'hang';
  const limits = { ...NO_LIMITS, maxConnections: 1, maxPendingRequests: 5 };
  const run = await startGuarded((port) =>
    guardedConfig(port, [b.port], {
      limits: limitsOf(limits),
    }),
  );
  running.push(run);
  const mem = [...run.states.values()][0].mem;
  const controllers = Array.from({ length: 3 }, () => new AbortController());
  const calls = controllers.map((c) =>
    fetch(`http://127.0.0.1:${run.port}/`, { signal: c.signal }).catch(() => 'aborted'),
  );
  await until(() => b.hits === 1 && mem.load(C.PENDING) === 2);
  assert.equal(mem.load(C.RQ), 1);
  assert.equal(mem.load(C.CX), 1);
  for (const c of controllers) c.abort();
  await Promise.all(calls);
  await until(() => mem.load(C.RQ) === 0 && mem.load(C.PENDING) === 0 && mem.load(C.CX) === 0);
  b.mode = 'ok';
  assert.equal((await get(run.port)).status, 200, 'the slots serve the next request');
});

test('classic circuit: half-open probes the client leaves, in flight or pending, give their permits back', async () => {
  const b = await backend();
  const breaker = {
    ...CLASSIC_BREAKER_DEFAULTS,
    window: { kind: 'count' as const, size: 2 },
    minimumCalls: 2,
    openMs: 100,
    halfOpenCalls: 2,
  };
  // One connection: the second probe waits as pending while the first holds it.
  const limits = { ...NO_LIMITS, maxConnections: 1 };
  const run = await startGuarded((port) =>
    guardedConfig(port, [b.port], { breaker, limits: limitsOf(limits) }),
  );
  running.push(run);
  const mem = [...run.states.values()][0].mem;
  const state = () => breakerJson([...run.states.values()][0], Date.now()).circuits[0].state;
  const abortable = () => {
    const c = new AbortController();
    const call = fetch(`http://127.0.0.1:${run.port}/`, { signal: c.signal }).catch(
      () => 'aborted',
    );
    return { call, abort: () => c.abort() };
  };
  for (const pending of [false, true]) {
    const what = pending ? 'pending' : 'in flight';
    b.mode = 500;
    for (let i = 0; i < 10 && state() !== 'open'; i++) await get(run.port);
    assert.equal(state(), 'open');
    b.mode = 'hang';
    // Past open_for: the next call moves the circuit to half-open and probes.
    await new Promise((r) => setTimeout(r, 150));
    const hits = b.hits;
    const first = abortable();
    await until(() => b.hits === hits + 1);
    const second = pending ? abortable() : null;
    if (second !== null) await until(() => mem.load(C.PENDING) === 1);
    second?.abort();
    await second?.call;
    first.abort();
    await first.call;
    await until(() => mem.load(C.RQ) === 0 && mem.load(C.PENDING) === 0);
    b.mode = 'ok';
    // Both permits are back: two calls probe, answer, and close the circuit.
    assert.equal((await get(run.port)).status, 200, `${what}: the first probe`);
    assert.equal((await get(run.port)).status, 200, `${what}: the second probe`);
    assert.equal(state(), 'closed', what);
  }
});

test('a reload lets requests in flight and pending finish on the old connections, then closes them', async () => {
  const b = await backend();
  b.mode = 'hang';
  const limits = { ...NO_LIMITS, maxConnections: 1, maxPendingRequests: 5 };
  const make = (port: number) =>
    guardedConfig(port, [b.port], {
      limits: limitsOf(limits),
    });
  const run = await startGuarded(make);
  running.push(run);
  const mem = [...run.states.values()][0].mem;
  const inFlight = get(run.port);
  const pending = get(run.port);
  await until(() => b.hits === 1 && mem.load(C.PENDING) === 1);
  const proxy = run.proxies[0];
  const next = reloadGuardStates(run.states, proxy.config, 1, proxy.log);
  proxy.reconfigure(proxy.config, { ...run.shared, guards: guardBuffers(next) });
  b.releaseHung();
  await until(() => b.hits === 2);
  b.releaseHung();
  assert.deepEqual([(await inFlight).status, (await pending).status], [200, 200]);
  await until(() => mem.load(C.CX) === 0, 3000);
  b.mode = 'ok';
  assert.equal((await get(run.port)).status, 200, 'the new generation opens its own connection');
  for (const s of next.values()) s.stop();
});

test('shutdown with a request hanging does not wait for it', async () => {
  const b = await backend();
  b.mode = 'hang';
  const run = await startGuarded((port) => guardedConfig(port, [b.port], {}));
  const hanging = get(run.port).catch(() => null);
  await until(() => b.hits === 1);
  const started = Date.now();
  await run.proxies[0].close();
  assert.ok(Date.now() - started < 1000, `closed in ${Date.now() - started} ms`);
  await hanging;
});

test('retry_on decides by status: gateway-error skips a 500, retriable-status-codes and retriable-4xx retry theirs', async () => {
  const b = await backend();
  const cases: [Mode, RetryOn[], number[], number][] = [
    [500, ['gateway-error'], [], 1],
    [502, ['gateway-error'], [], 3],
    [418, ['retriable-status-codes'], [418], 3],
    [418, ['retriable-status-codes'], [419], 1],
    [409, ['retriable-4xx'], [], 3],
    [404, ['5xx', 'retriable-4xx'], [], 1],
  ];
  for (const [mode, retryOn, retriableStatusCodes, tries] of cases) {
    b.mode = mode;
    const run = await startGuarded((port) =>
      guardedConfig(
        port,
        [b.port],
        {},
        { timeoutMs: 5000, retry: retryPolicy({ retryOn, retriableStatusCodes, numRetries: 2 }) },
      ),
    );
    running.push(run);
    const before = b.hits;
    assert.equal((await get(run.port)).status, mode);
    assert.equal(
      b.hits - before,
      tries,
      `${mode} with ${retryOn.join(',')} ${retriableStatusCodes.join(',')}`,
    );
  }
});
