// The breaker's state machines on a fake clock: the classic circuit, Envoy's outlier detection
// (consecutive errors, ejection doubling, max_ejection_percent, success rate, failure
// percentage, panic threshold), the strict shared counters, and what a dead worker held.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  CLASSIC_BREAKER_DEFAULTS,
  type ClassicBreakerConfig,
  ENVOY_OUTLIER,
  NO_LIMIT,
  type OutlierDetectionConfig,
} from '../../engine/config/http-types.ts';
import {
  ejectionMs,
  LOCAL_CONNECT_FAILURE,
  LOCAL_TIMEOUT,
  outlierTick,
  recordResult,
  routable,
} from '../../engine/health/outlier.ts';
import {
  allocateBreaker,
  type BreakerLayout,
  BreakerMemory,
  C,
  CLOSED,
  H,
  HALF_OPEN,
  K,
  OPEN,
  UNLIMITED,
} from '../../engine/shared/breaker-memory.ts';
import { Circuits, REJECTED } from '../../engine/shared/circuit.ts';

function memory(
  hosts: number,
  circuits = 0,
  window: BreakerLayout['window'] = { kind: 'count', size: 10 },
) {
  const layout = { hosts, circuits, window };
  return new BreakerMemory(allocateBreaker(layout, 1), layout);
}

function circuits(cfg: Partial<ClassicBreakerConfig>) {
  const config = { ...CLASSIC_BREAKER_DEFAULTS, ...cfg };
  const mem = memory(1, 1, config.window);
  const moves: string[] = [];
  const c = new Circuits(mem, config, (_c, from, to) => moves.push(`${from}>${to}`));
  return { c, mem, moves };
}

test('classic: closed until minimum calls, then opens at the failure rate', () => {
  const { c, moves } = circuits({
    window: { kind: 'count', size: 10 },
    minimumCalls: 4,
    failureRateThreshold: 50,
    openMs: 1000,
    halfOpenCalls: 2,
  });
  let t = 1_000_000;
  for (let i = 0; i < 3; i++) c.record(0, c.admit(0, t), true, 1, t);
  assert.equal(c.state(0), CLOSED, 'three failures are under minimumCalls 4');
  c.record(0, c.admit(0, t), false, 1, t);
  assert.equal(c.state(0), OPEN, '3 of 4 failed = 75% ≥ 50%');
  assert.deepEqual(moves, ['0>1']);
  assert.equal(c.admit(0, t + 999), REJECTED);
  assert.equal(c.retryAfterSeconds(0, t + 10), 1);
  assert.equal(c.nextProbeAt(0), t + 1000);
  t += 1000;
  const p1 = c.admit(0, t);
  const p2 = c.admit(0, t);
  assert.equal(c.state(0), HALF_OPEN);
  assert.ok(p1 % 2 === 1 && p2 % 2 === 1, 'both are probes');
  assert.equal(c.admit(0, t), REJECTED, 'a third call fails fast while the probes run');
  c.record(0, p1, false, 1, t);
  assert.equal(c.state(0), HALF_OPEN, 'one probe answered of two');
  c.record(0, p2, false, 1, t);
  assert.equal(c.state(0), CLOSED);
  assert.deepEqual(moves, ['0>1', '1>2', '2>0']);
  const [calls] = c.window(0, t);
  assert.equal(calls, 0, 'closing empties the window');
});

test('classic: failing probes reopen the circuit for another wait', () => {
  const { c, moves } = circuits({
    window: { kind: 'count', size: 4 },
    minimumCalls: 2,
    openMs: 500,
    halfOpenCalls: 1,
  });
  const t = 5000;
  c.record(0, c.admit(0, t), true, 1, t);
  c.record(0, c.admit(0, t), true, 1, t);
  assert.equal(c.state(0), OPEN);
  const probe = c.admit(0, t + 500);
  c.record(0, probe, true, 1, t + 600);
  assert.equal(c.state(0), OPEN);
  assert.equal(c.nextProbeAt(0), t + 600 + 500, 'the wait starts again from the failed probe');
  assert.deepEqual(moves, ['0>1', '1>2', '2>1']);
});

test('classic: an outcome from before a transition is not counted', () => {
  const { c } = circuits({
    window: { kind: 'count', size: 4 },
    minimumCalls: 2,
    openMs: 500,
    halfOpenCalls: 1,
  });
  const early = c.admit(0, 0);
  c.record(0, c.admit(0, 0), true, 1, 0);
  c.record(0, c.admit(0, 0), true, 1, 0);
  assert.equal(c.state(0), OPEN);
  const probe = c.admit(0, 600);
  c.record(0, early, true, 1, 600);
  assert.equal(c.state(0), HALF_OPEN, 'the stale failure did not decide the half-open state');
  c.record(0, probe, false, 1, 600);
  assert.equal(c.state(0), CLOSED);
});

test('classic: count window slides (old calls fall out)', () => {
  const { c } = circuits({
    window: { kind: 'count', size: 4 },
    minimumCalls: 4,
    failureRateThreshold: 75,
  });
  for (const failed of [true, true, false, false, false, false, true, true])
    c.record(0, c.admit(0, 0), failed, 1, 0);
  assert.deepEqual(c.window(0, 0), [4, 2, 0]);
  assert.equal(c.state(0), CLOSED, '2 of the last 4 = 50% < 75%');
  c.record(0, c.admit(0, 0), true, 1, 0);
  assert.equal(c.state(0), OPEN, '3 of the last 4');
});

test('classic: time window forgets calls older than its seconds', () => {
  const { c } = circuits({
    window: { kind: 'time', size: 2 },
    minimumCalls: 3,
    failureRateThreshold: 100,
  });
  c.record(0, c.admit(0, 10_000), true, 1, 10_000);
  c.record(0, c.admit(0, 10_500), true, 1, 10_500);
  assert.deepEqual(c.window(0, 11_200), [2, 2, 0]);
  assert.deepEqual(c.window(0, 12_100), [0, 0, 0], 'both are two seconds old');
  c.record(0, c.admit(0, 12_100), true, 1, 12_100);
  assert.equal(c.state(0), CLOSED);
});

test('classic: slow calls open the circuit at the slow-call rate', () => {
  const { c } = circuits({
    window: { kind: 'count', size: 4 },
    minimumCalls: 4,
    slowCallMs: 100,
    slowCallRateThreshold: 50,
  });
  c.record(0, c.admit(0, 0), false, 150, 0);
  c.record(0, c.admit(0, 0), false, 10, 0);
  c.record(0, c.admit(0, 0), false, 10, 0);
  assert.equal(c.state(0), CLOSED);
  c.record(0, c.admit(0, 0), false, 100, 0);
  assert.equal(c.state(0), OPEN, '2 of 4 slow = 50%');
});

/** A circuit that opens at its first failure and half-opens at once (open_for 0): rounds turn over fast. */
function fastCycling(halfOpenCalls: number): ClassicBreakerConfig {
  return {
    ...CLASSIC_BREAKER_DEFAULTS,
    window: { kind: 'count', size: 4 },
    minimumCalls: 1,
    openMs: 0,
    halfOpenCalls,
  };
}

test('classic: a thread that takes a permit of a half-open begun under it makes it a probe of that one', () => {
  // The interleaving the thread test hits by chance, step by step: thread A has read half-open
  // (round g) and is about to take a permit when round g ends and B starts the next half-open,
  // up to its last store. A's permit is the new round's; were it lost, the round could never
  // complete and every later call would be rejected.
  const config = fastCycling(3);
  const layout = { hosts: 1, circuits: 1, window: config.window };
  const sab = allocateBreaker(layout, 2);
  const memA = new BreakerMemory(sab, layout, 0);
  const memB = new BreakerMemory(sab, layout, 1);
  const a = new Circuits(memA, config, () => {});
  const b = new Circuits(memB, config, () => {});
  b.record(0, b.admit(0, 1), true, 1, 1);
  const probes = [b.admit(0, 2), b.admit(0, 2), b.admit(0, 2)];
  assert.equal(b.state(0), HALF_OPEN);
  const take = memA.takeProbe.bind(memA);
  let bProbe = REJECTED;
  memA.takeProbe = (circuit: number) => {
    for (const p of probes) b.record(0, p, true, 1, 3); // round g fails: open again
    bProbe = b.admit(0, 4); // open_for 0: B half-opens it (round g + 2) and takes a probe
    // …as far as #move's stores go before its last one, the state (as if B were still in it).
    Atomics.store(memA.cells, memA.k(0, K.STATE), 3);
    return take(circuit);
  };
  const ticket = a.admit(0, 4);
  memA.takeProbe = take;
  Atomics.store(memA.cells, memA.k(0, K.STATE), HALF_OPEN);
  assert.notEqual(ticket, REJECTED, "A's permit is a probe");
  a.record(0, ticket, false, 1, 5);
  b.record(0, bProbe, false, 1, 5);
  for (let i = 0; i < 10 && b.state(0) !== CLOSED; i++) {
    const t = b.admit(0, 6);
    if (t !== REJECTED) b.record(0, t, false, 1, 6);
  }
  assert.equal(b.state(0), CLOSED, 'three good probes closed it');
});

test('classic: threads racing through open, half-open and closed never strand a half-open without permits', async () => {
  // open_for 0: every admit after an opening starts a half-open, so rounds turn over while
  // other threads still hold the generation they read; a permit lost to that race would leave
  // the circuit half-open with no permit and no probe in flight, rejecting every call for ever.
  const config = { ...fastCycling(3), failureRateThreshold: 50 };
  const layout = { hosts: 1, circuits: 1, window: config.window };
  const threads = 4;
  const sab = allocateBreaker(layout, threads);
  const workers = Array.from(
    { length: threads },
    (_, worker) =>
      new Worker(new URL('../helpers/circuit-worker.ts', import.meta.url), {
        workerData: { sab, layout, config, worker, calls: 200_000 },
      }),
  );
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  await Promise.all(workers.map((w) => w.terminate()));
  const mem = new BreakerMemory(sab, layout);
  const c = new Circuits(mem, config, () => {});
  const left = mem.load(mem.k(0, K.PROBES_LEFT));
  const done = mem.load(mem.k(0, K.PROBES_DONE));
  if (c.state(0) === HALF_OPEN)
    assert.ok(
      left + done >= config.halfOpenCalls,
      `half-open with ${left} permits, ${done} answered`,
    );
  // Calls that succeed close it again: the circuit is not stuck.
  for (let i = 0; i < 20 && c.state(0) !== CLOSED; i++) {
    const ticket = c.admit(0, Date.now());
    if (ticket !== REJECTED) c.record(0, ticket, false, 1, Date.now());
  }
  assert.equal(c.state(0), CLOSED);
});

test('classic: two threads taking half-open permits get exactly N between them', async () => {
  const config = fastCycling(7);
  const layout = { hosts: 1, circuits: 1, window: config.window };
  const sab = allocateBreaker(layout, 1);
  const mem = new BreakerMemory(sab, layout);
  const c = new Circuits(mem, config, () => {});
  c.record(0, c.admit(0, 0), true, 1, 0);
  assert.equal(c.state(0), OPEN);
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const cells = new Int32Array(workerData.sab, workerData.offset, workerData.ints);
     let got = 0;
     for (let i = 0; i < 5000; i++) {
       const v = Atomics.load(cells, workerData.at);
       if (v > 0 && Atomics.compareExchange(cells, workerData.at, v, v - 1) === v) got++;
     }
     parentPort.postMessage(got);`,
    {
      eval: true,
      workerData: {
        sab,
        offset: mem.cells.byteOffset,
        ints: mem.cells.length,
        at: mem.k(0, K.PROBES_LEFT),
      },
    },
  );
  let mine = 0;
  for (let i = 0; i < 5000; i++) if (c.admit(0, 1) !== REJECTED) mine++;
  const theirs = await new Promise<number>((resolve) => worker.once('message', resolve));
  await worker.terminate();
  assert.equal(mine + theirs, 7);
});

function od(cfg: Partial<OutlierDetectionConfig>): OutlierDetectionConfig {
  return { ...ENVOY_OUTLIER, ...cfg };
}

const always = () => 0;

test('outlier: with Envoy defaults a cluster of one host is never ejected', () => {
  const mem = memory(1);
  const cfg = od({});
  for (let i = 0; i < 20; i++) recordResult(mem, cfg, 0, 503, 0, always);
  assert.equal(mem.isEjected(0), false);
  assert.ok(mem.load(C.EJECTIONS_OVERFLOW) >= 1, '100 × 1/1 > 10: counted as ejections_overflow');
});

test('outlier: consecutive 5xx ejects at the threshold; a 2xx resets the count', () => {
  const mem = memory(1);
  const cfg = od({ maxEjectionPercent: 100 });
  for (let i = 0; i < 4; i++) recordResult(mem, cfg, 0, 500, 0, always);
  recordResult(mem, cfg, 0, 200, 0, always);
  for (let i = 0; i < 4; i++) recordResult(mem, cfg, 0, 500, 0, always);
  assert.equal(mem.isEjected(0), false);
  assert.equal(recordResult(mem, cfg, 0, 500, 7, always), true);
  assert.equal(mem.isEjected(0), true);
  assert.equal(mem.load(C.ENFORCED_5XX), 1);
  assert.equal(mem.ejectedAt(0), 7);
});

test('outlier: connect failures count as 503 and timeouts as 504 (local origin not split)', () => {
  const mem = memory(1);
  const cfg = od({ maxEjectionPercent: 100, consecutive5xx: 3 });
  recordResult(mem, cfg, 0, LOCAL_CONNECT_FAILURE, 0, always);
  recordResult(mem, cfg, 0, LOCAL_TIMEOUT, 0, always);
  assert.equal(mem.load(mem.h(0, H.CONSECUTIVE_GATEWAY)), 2);
  recordResult(mem, cfg, 0, LOCAL_CONNECT_FAILURE, 0, always);
  assert.equal(mem.isEjected(0), true);
});

test('outlier: gateway failures are counted but not enforced by default', () => {
  const mem = memory(1);
  const cfg = od({ maxEjectionPercent: 100, consecutive5xx: 100 });
  for (let i = 0; i < 5; i++) recordResult(mem, cfg, 0, 502, 0, () => 50);
  assert.equal(mem.isEjected(0), false);
  assert.equal(mem.load(C.DETECTED_GATEWAY), 1);
  assert.equal(mem.load(C.ENFORCED_GATEWAY), 0);
});

test('outlier: ejection time doubles (base × times) up to max, and shrinks after healthy intervals', () => {
  const mem = memory(1);
  const cfg = od({
    maxEjectionPercent: 100,
    consecutive5xx: 1,
    baseEjectionTimeMs: 100,
    maxEjectionTimeMs: 250,
    intervalMs: 10,
  });
  let t = 1000;
  const durations: number[] = [];
  for (let round = 0; round < 4; round++) {
    recordResult(mem, cfg, 0, 500, t, always);
    assert.equal(mem.isEjected(0), true);
    durations.push(ejectionMs(mem, cfg, 0));
    const until = t + ejectionMs(mem, cfg, 0);
    outlierTick(mem, cfg, until - 1, always);
    assert.equal(mem.isEjected(0), true, 'not released before its time');
    outlierTick(mem, cfg, until, always);
    assert.equal(mem.isEjected(0), false);
    t = until;
  }
  assert.deepEqual(durations, [100, 200, 250, 250]);
  // Healthy ticks, each an interval after the release, bring the backoff down one by one.
  const before = mem.load(mem.h(0, H.BACKOFF));
  outlierTick(mem, cfg, t + 10, always);
  outlierTick(mem, cfg, t + 20, always);
  assert.equal(mem.load(mem.h(0, H.BACKOFF)), before - 2);
});

test('outlier: max_ejection_percent caps ejections; always_eject_one_host lets one go', () => {
  const mem = memory(4);
  const cfg = od({ consecutive5xx: 1, maxEjectionPercent: 50 });
  for (let h = 0; h < 4; h++) recordResult(mem, cfg, h, 500, 0, always);
  assert.equal(mem.load(C.EJECTIONS_ACTIVE), 2);
  const one = memory(1);
  recordResult(one, od({ consecutive5xx: 1, alwaysEjectOneHost: true }), 0, 500, 0, always);
  assert.equal(one.isEjected(0), true);
});

test('outlier: success rate ejects the host below mean − 1.9 stdev', () => {
  const mem = memory(5);
  const cfg = od({
    maxEjectionPercent: 100,
    consecutive5xx: 1000,
    consecutiveGatewayFailure: 1000,
    successRateRequestVolume: 100,
  });
  for (let h = 0; h < 5; h++)
    for (let i = 0; i < 100; i++)
      recordResult(mem, cfg, h, h === 3 && i < 50 ? 500 : 200, 0, always);
  const report = outlierTick(mem, cfg, 10_000, always);
  assert.deepEqual(report.ejected, [{ host: 3, type: 'success_rate' }]);
  assert.equal(mem.load(mem.h(0, H.INTERVAL_TOTAL)), 0, 'the interval counters start over');
});

test('outlier: success rate needs minimum hosts with enough volume', () => {
  const mem = memory(5);
  const cfg = od({
    maxEjectionPercent: 100,
    consecutive5xx: 1000,
    consecutiveGatewayFailure: 1000,
  });
  for (let h = 0; h < 5; h++)
    for (let i = 0; i < (h === 0 ? 99 : 100); i++)
      recordResult(mem, cfg, h, h === 3 && i < 50 ? 500 : 200, 0, always);
  assert.deepEqual(
    outlierTick(mem, cfg, 10_000, always).ejected,
    [],
    'only 4 hosts reached 100 requests',
  );
});

test('outlier: failure percentage ejects when enforced (0% by default)', () => {
  const cfg = od({
    maxEjectionPercent: 100,
    consecutive5xx: 1000,
    consecutiveGatewayFailure: 1000,
    successRateMinimumHosts: 100,
    failurePercentageMinimumHosts: 1,
  });
  const off = memory(1);
  for (let i = 0; i < 50; i++) recordResult(off, cfg, 0, 500, 0, () => 50);
  assert.deepEqual(outlierTick(off, cfg, 1, () => 50).ejected, []);
  assert.equal(off.load(C.DETECTED_FAILURE_PERCENT), 1);
  const on = memory(1);
  const enforcing = { ...cfg, enforcingFailurePercentage: 100 };
  for (let i = 0; i < 50; i++) recordResult(on, enforcing, 0, 500, 0, always);
  assert.deepEqual(outlierTick(on, enforcing, 1, always).ejected, [
    { host: 0, type: 'failure_percentage' },
  ]);
});

test('panic threshold: under it every host is routable, ejected ones too; 0 → none', () => {
  const mem = memory(2);
  const cfg = od({ consecutive5xx: 1, maxEjectionPercent: 100 });
  recordResult(mem, cfg, 0, 500, 0, always);
  const out = new Int32Array(2);
  assert.equal(routable(mem, 50, out), 1, '1 of 2 healthy = 50%, not under 50');
  assert.equal(out[0], 1);
  recordResult(mem, cfg, 1, 500, 0, always);
  assert.equal(routable(mem, 50, out), 2, '0% healthy < 50%: panic, both hosts');
  assert.equal(routable(mem, 0, out), 0, 'threshold 0: never panic, no healthy upstream');
});

test('take never passes its limit; a threshold of 0 admits none (Envoy), UNLIMITED has none', () => {
  const mem = memory(1);
  let got = 0;
  for (let i = 0; i < 10; i++) if (mem.take(C.RQ, 3)) got++;
  assert.equal(got, 3);
  mem.give(C.RQ);
  assert.equal(mem.take(C.RQ, 3), true);
  assert.equal(mem.take(C.PENDING, 0), false);
  assert.equal(mem.load(C.PENDING), 0);
  for (let i = 0; i < 5; i++) assert.equal(mem.takeHost(0, H.CX, NO_LIMIT), true);
  assert.equal(mem.load(mem.h(0, H.CX)), 5);
});

/** The main thread's view and one view per worker of a memory made for `workers` workers. */
function workerViews(layout: BreakerLayout, workers: number) {
  const sab = allocateBreaker(layout, workers);
  const main = new BreakerMemory(sab, layout);
  const views = Array.from({ length: workers }, (_, w) => new BreakerMemory(sab, layout, w));
  return { main, views };
}

test('forgetWorker: what a dead worker held is taken off every count; the others keep theirs', () => {
  const layout = { hosts: 2, circuits: 0, window: { kind: 'count', size: 1 } } as const;
  const { main, views } = workerViews(layout, 3);
  const [w0, w1, w2] = views;
  // max_requests 3 over the cluster: worker 0 holds two, worker 1 one.
  assert.equal(w0.take(C.RQ, 3), true);
  assert.equal(w0.takeHost(1, H.RQ, 3), true);
  assert.equal(w0.take(C.RQ, 3), true);
  assert.equal(w0.takeHost(1, H.RQ, 3), true);
  assert.equal(w1.take(C.RQ, 3), true);
  assert.equal(w1.takeHost(0, H.RQ, 3), true);
  assert.equal(w2.take(C.RQ, 3), false, 'max_requests reached over all workers');
  for (const cell of [C.CX, C.PENDING, C.RETRIES] as const) {
    assert.equal(w0.take(cell, UNLIMITED), true);
    assert.equal(w1.take(cell, UNLIMITED), true);
  }
  assert.equal(w0.takeHost(0, H.CX, UNLIMITED), true);
  assert.equal(w1.takeHost(0, H.CX, UNLIMITED), true);
  // One taken and given back: nothing of it is left to forget.
  assert.equal(w0.take(C.RETRIES, UNLIMITED), true);
  w0.give(C.RETRIES);

  main.forgetWorker(0);
  for (const cell of [C.RQ, C.CX, C.PENDING, C.RETRIES]) assert.equal(main.load(cell), 1);
  assert.equal(main.load(main.h(0, H.RQ)), 1);
  assert.equal(main.load(main.h(1, H.RQ)), 0);
  assert.equal(main.load(main.h(0, H.CX)), 1);
  assert.equal(w2.take(C.RQ, 3), true, 'the dead worker’s places are free again');
  assert.equal(w2.take(C.RQ, 3), true);
  assert.equal(w2.take(C.RQ, 3), false, 'and no more than them');
  main.forgetWorker(0);
  assert.equal(main.load(C.RQ), 3, 'forgetting twice takes nothing more');
  // A restarted worker 0 counts from nothing; the live ones give back what they hold.
  assert.equal(w0.take(C.CX, UNLIMITED), true);
  w0.give(C.CX);
  w1.give(C.RQ);
  w1.giveHost(0, H.RQ);
  w2.give(C.RQ);
  w2.give(C.RQ);
  for (const cell of [C.CX, C.PENDING, C.RETRIES] as const) w1.give(cell);
  w1.giveHost(0, H.CX);
  for (const cell of [C.RQ, C.CX, C.PENDING, C.RETRIES]) assert.equal(main.load(cell), 0);
  for (const h of [0, 1])
    for (const cell of [H.RQ, H.CX]) assert.equal(main.load(main.h(h, cell)), 0);
});

/** One circuit that opens at one failure and half-opens with 2 probes, seen by two workers. */
function twoWorkersCircuit(openMs: number) {
  const config = {
    ...CLASSIC_BREAKER_DEFAULTS,
    window: { kind: 'count', size: 4 } as const,
    minimumCalls: 1,
    openMs,
    halfOpenCalls: 2,
  };
  const { main, views } = workerViews({ hosts: 1, circuits: 1, window: config.window }, 2);
  const moves: string[] = [];
  const [c0, c1] = views.map(
    (mem) => new Circuits(mem, config, (_c, from, to) => moves.push(`${from}>${to}`)),
  );
  return { main, c0, c1, moves };
}

test('a worker that dies holding a half-open probe: its permit goes back, and the probes decide', () => {
  const { main, c0, c1, moves } = twoWorkersCircuit(1000);
  c0.record(0, c0.admit(0, 0), true, 1, 0);
  assert.equal(c0.state(0), OPEN);
  const held = c0.admit(0, 1000);
  assert.notEqual(held, REJECTED);
  assert.equal(c1.state(0), HALF_OPEN);
  const answered = c1.admit(0, 1000);
  assert.notEqual(answered, REJECTED);
  assert.equal(c1.admit(0, 1000), REJECTED, 'both permits taken');
  c1.record(0, answered, false, 1, 1000);
  main.forgetWorker(1);
  assert.equal(c1.admit(0, 1000), REJECTED, 'worker 1 held no probe any more: nothing given back');
  // Worker 0 dies with its probe in flight: it will never answer.
  main.forgetWorker(0);
  const replacement = c1.admit(0, 1001);
  assert.notEqual(replacement, REJECTED, 'the dead worker’s permit is taken again');
  assert.equal(c1.admit(0, 1001), REJECTED, 'and only that one');
  c1.record(0, replacement, false, 1, 1001);
  assert.equal(c1.state(0), CLOSED, 'two probes answered, both good: closed');
  assert.deepEqual(moves, [`${CLOSED}>${OPEN}`, `${OPEN}>${HALF_OPEN}`, `${HALF_OPEN}>${CLOSED}`]);
});

test('probes given back (overflow) or answered leave no share behind to give back again', () => {
  const { main, c0, c1 } = twoWorkersCircuit(0);
  c0.record(0, c0.admit(0, 0), true, 1, 0);
  const overflowed = c1.admit(0, 1);
  assert.equal(c1.state(0), HALF_OPEN);
  c1.giveBack(0, overflowed);
  const answered = c1.admit(0, 1);
  const running = c0.admit(0, 1);
  assert.notEqual(answered, REJECTED);
  assert.notEqual(running, REJECTED);
  c1.record(0, answered, false, 1, 1);
  // Worker 1 dies holding no probe: no permit comes out of nowhere.
  main.forgetWorker(1);
  assert.equal(c0.admit(0, 1), REJECTED, 'both permits are still taken or answered');
  c0.record(0, running, false, 1, 1);
  assert.equal(c0.state(0), CLOSED);
});
