// nginx's `server … max_conns=N` under legate with two workers: the connection counts are one
// process-wide number (taken with compare-and-swap), so the backend never sees more than N
// requests at once from legate, and what a worker held when it died is given back.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { until, waitForLog } from '../helpers/faults.ts';
import { Backend } from '../helpers/http.ts';
import { freePort, type RunningProcess, startLegate, writeConfig } from '../helpers/processes.ts';

function maxConnsYaml(port: number, backend: number, maxConns: number): string {
  return `workers: 2
http:
  engine: node
  upstreams:
    backend:
      servers:
        - address: 127.0.0.1:${backend}
          max_conns: ${maxConns}
  servers:
    - listen: 127.0.0.1:${port}
      locations:
        - path: /
          upstream: backend
`;
}

/** A backend that holds each request until the test lets it go; counts the most held at once. */
class HoldingBackend {
  readonly held = new Set<ServerResponse>();
  most = 0;
  seen = 0;
  backend!: Backend;

  static async start(): Promise<HoldingBackend> {
    const h = new HoldingBackend();
    h.backend = await Backend.start((_req, res) => {
      h.seen++;
      h.held.add(res);
      h.most = Math.max(h.most, h.held.size);
      res.once('close', () => h.held.delete(res));
    });
    return h;
  }

  /** Answers every request held now. */
  letGo(): void {
    for (const res of this.held) res.end('ok');
  }
}

/** A GET on its own connection (the kernel spreads connections over the workers): its status, or 'error'. */
async function get(port: number): Promise<number | 'error'> {
  try {
    const r = await request(`http://127.0.0.1:${port}/`, { reset: true });
    await r.body.text();
    return r.statusCode;
  } catch {
    return 'error';
  }
}

describe('max_conns across two workers', () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function start(maxConns: number, env: NodeJS.ProcessEnv = {}) {
    const held = await HoldingBackend.start();
    cleanups.push(() => held.backend.stop());
    const port = await freePort();
    const conf = writeConfig(maxConnsYaml(port, held.backend.port, maxConns));
    cleanups.push(() => conf.cleanup());
    const legate: RunningProcess = await startLegate(['-c', conf.file], env);
    cleanups.push(() => legate.stop());
    assert.match(legate.output(), /2 workers/);
    return { held, port, legate };
  }

  it('50 requests at once to a server with max_conns=2: it never has more than 2; the rest get 502', async () => {
    const { held, port } = await start(2);
    let ok = 0;
    for (let round = 0; round < 3; round++) {
      const statuses: (number | 'error')[] = [];
      const answers = Array.from({ length: 50 }, () => get(port).then((s) => statuses.push(s)));
      // Every request either answered or held by the backend: those over the limit got 502.
      await until(
        () => statuses.length + held.held.size === 50,
        15000,
        `every request answered or held (${statuses.length} answered, ${held.held.size} held)`,
      );
      assert.ok(held.most <= 2, `the backend had ${held.most} requests at once from legate`);
      const holding = held.held.size;
      held.letGo();
      await Promise.all(answers);
      for (const s of statuses) assert.ok(s === 200 || s === 502, `status ${s}`);
      const passed = statuses.filter((s) => s === 200).length;
      assert.ok(holding >= 1 && holding <= 2, `round ${round}: ${holding} held`);
      assert.equal(passed, holding, `round ${round}: the held ones answered 200, the rest 502`);
      ok += passed;
      assert.equal(held.seen, ok, 'no 502 reached the backend');
    }
    // Every connection given back: two at once get through again.
    const two = [get(port), get(port)];
    await until(() => held.held.size === 2, 10000, 'both held');
    held.letGo();
    assert.deepEqual(await Promise.all(two), [200, 200]);
  });

  it('a worker that dies holding connections gives them back: max_conns is whole again', async () => {
    const { held, port, legate } = await start(4, { LEGATE_TEST_HOOKS: '1' });
    // Until worker 0 dies with some of the 4 connections (the kernel chooses the worker).
    let lost = 0;
    for (let round = 0; round < 10 && lost === 0; round++) {
      const answers = Array.from({ length: 4 }, () => get(port));
      await until(() => held.held.size === 4, 10000, 'four requests held');
      const from = legate.output().length;
      process.kill(legate.child.pid ?? 0, 'SIGUSR2');
      await waitForLog(legate, /"msg":"worker 0 restarted"/, 15000, from);
      held.letGo();
      const statuses = await Promise.all(answers);
      lost = statuses.filter((s) => s === 'error').length;
      assert.equal(statuses.filter((s) => s === 200).length, 4 - lost, String(statuses));
    }
    assert.ok(lost > 0, 'worker 0 held a connection when it died');
    // All 4 places are free: 4 requests at once all reach the backend (a leaked place would
    // answer 502 at once).
    const settled: (number | 'error')[] = [];
    const answers = Array.from({ length: 4 }, () => get(port).then((s) => settled.push(s)));
    await until(
      () => held.held.size === 4 || settled.length > 0,
      10000,
      'four requests held or one answered',
    );
    assert.deepEqual(settled, [], 'none refused while the backend held fewer than 4');
    held.letGo();
    await Promise.all(answers);
    assert.deepEqual(settled, [200, 200, 200, 200]);
  });
});
