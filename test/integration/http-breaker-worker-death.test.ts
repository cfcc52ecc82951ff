// The breaker's shared counts under `legate -w 2` when a worker dies holding part of them: each
// worker keeps its share beside each count and the supervisor takes a dead worker's off, so
// max_requests admits exactly its number again, and a half-open probe that died with its worker
// gives its permit back instead of holding the circuit half-open for ever.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Answer, ControlledBackend, get, OVERFLOW_BODY } from '../helpers/breaker.ts';
import { sleep, until, waitForLog } from '../helpers/faults.ts';
import { freePort, type RunningProcess, startLegate, writeConfig } from '../helpers/processes.ts';

function guardedYaml(port: number, backend: number, guard: string): string {
  return `workers: 2
http:
  engine: node
  upstreams:
    backend:
      servers: [127.0.0.1:${backend}]
      ${guard}
  servers:
    - listen: 127.0.0.1:${port}
      locations:
        - { path: /, upstream: backend, timeout: 30s }
`;
}

/** A GET on its own connection (the kernel spreads them over the workers), or 'error'. */
function attempt(port: number): Promise<Answer | 'error'> {
  return get(port).catch(() => 'error' as const);
}

function statusOf(a: Answer | 'error'): number | 'error' {
  return a === 'error' ? a : a.status;
}

/** Crashes worker 0 (LEGATE_TEST_HOOKS) and waits until the supervisor has restarted it. */
async function crashWorker0(legate: RunningProcess): Promise<void> {
  const from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGUSR2');
  await waitForLog(legate, /"msg":"worker 0 restarted"/, 15000, from);
}

describe('the breaker when a worker dies (legate -w 2)', () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function start(guard: string) {
    const backend = await ControlledBackend.start();
    cleanups.push(() => backend.stop());
    const port = await freePort();
    const conf = writeConfig(guardedYaml(port, backend.port, guard));
    cleanups.push(() => conf.cleanup());
    const legate = await startLegate(['-c', conf.file], { LEGATE_TEST_HOOKS: '1' });
    cleanups.push(() => legate.stop());
    assert.match(legate.output(), /2 workers/);
    return { backend, port, legate };
  }

  it('max_requests 2: requests a dead worker held are given back; then 2 are admitted, the third overflows', async () => {
    const { backend, port, legate } = await start('limits: { max_requests: 2 }');
    backend.mode = 'hang';
    // Until worker 0 dies holding some of the 2 requests (the kernel chooses the worker).
    let lost = 0;
    for (let round = 0; round < 10 && lost === 0; round++) {
      const answers = [attempt(port), attempt(port)];
      await until(() => backend.inFlight === 2, 10000, 'two requests held');
      await crashWorker0(legate);
      backend.releaseHung();
      const statuses = (await Promise.all(answers)).map(statusOf);
      lost = statuses.filter((s) => s === 'error').length;
      assert.equal(statuses.filter((s) => s === 200).length, 2 - lost, String(statuses));
    }
    assert.ok(lost > 0, 'worker 0 held a request when it died');
    await until(() => backend.inFlight === 0, 10000, 'the dead worker’s requests closed');
    // Both places are free again: 2 requests reach the backend (a place still counted for the
    // dead worker would answer the second with the overflow 503 at once).
    const settled: (number | 'error')[] = [];
    const two = [attempt(port), attempt(port)].map((p) =>
      p.then((a) => {
        settled.push(statusOf(a));
        return a;
      }),
    );
    await until(
      () => backend.inFlight === 2 || settled.length > 0,
      10000,
      'two requests held or one answered',
    );
    assert.deepEqual(settled, [], 'none refused while the backend held fewer than 2');
    const third = await attempt(port);
    assert.notEqual(third, 'error');
    if (third !== 'error') {
      assert.equal(third.status, 503, 'the third is over max_requests');
      assert.equal(third.headers.get('x-envoy-overloaded'), 'true');
      assert.equal(third.body, OVERFLOW_BODY);
    }
    assert.equal(backend.inFlight, 2, 'the overflow never reached the backend');
    backend.releaseHung();
    assert.deepEqual((await Promise.all(two)).map(statusOf), [200, 200]);
  });

  it('a half-open probe held by a dead worker gives its permit back: the next call probes and closes the circuit', async () => {
    const { backend, port, legate } = await start(
      'breaker: { failure_rate: 50, window: 2, minimum_calls: 2, open_for: 1s, half_open_calls: 1 }',
    );
    let died = false;
    for (let round = 0; round < 10 && !died; round++) {
      // Two failures open the circuit.
      backend.mode = 500;
      let opened = false;
      for (let i = 0; i < 10 && !opened; i++) {
        const a = await attempt(port);
        opened = a !== 'error' && a.headers.get('x-legate-circuit') === 'open';
      }
      assert.ok(opened, 'the circuit opened');
      // After open_for, the one probe is let in and held by the backend.
      backend.mode = 'hang';
      const hits = backend.hits;
      let probe: Promise<Answer | 'error'> | null = null;
      for (let i = 0; i < 100 && probe === null; i++) {
        let answered: Answer | 'error' | null = null;
        const p = attempt(port).then((a) => {
          answered = a;
          return a;
        });
        await until(() => answered !== null || backend.hits > hits, 10000, 'answered or let in');
        if (answered === null) probe = p;
        else {
          assert.equal(statusOf(answered), 503, 'open: answered at once');
          await sleep(50);
        }
      }
      assert.ok(probe !== null, 'a probe was let in after open_for');
      const refused = await attempt(port);
      assert.ok(refused !== 'error' && refused.headers.get('x-legate-circuit') === 'half-open');
      await crashWorker0(legate);
      backend.releaseHung();
      // On worker 1 the probe answers 200 and closes the circuit: try again. On worker 0 it died.
      died = (await probe) === 'error';
    }
    assert.ok(died, 'worker 0 held the probe when it died');
    backend.mode = 'ok';
    const next = await attempt(port);
    assert.equal(statusOf(next), 200, 'the dead probe’s permit let the next call probe');
    assert.equal(statusOf(await attempt(port)), 200, 'the probe closed the circuit');
  });
});
