// The HTTP role as a user runs it: `legate -c splitter.yml -w 2` (config/splitter.yml's shape on
// loopback ports), SO_REUSEPORT across both workers, SIGHUP reloads (new servers take new
// requests; passive health survives when the upstream stays), SIGTERM drains (a request in
// flight gets its answer, then legate exits 0).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { getStats } from '../helpers/admin.ts';
import { Backend } from '../helpers/http.ts';
import { freePort, type RunningProcess, startLegate, writeConfig } from '../helpers/processes.ts';

function splitterYaml(port: number, servers: readonly { port: number; weight: number }[]): string {
  // config/splitter.yml, its comments left out, on loopback addresses.
  const text = readFileSync(new URL('../../config/splitter.yml', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  const list = servers
    .map(
      (s) =>
        `        - address: 127.0.0.1:${s.port}\n          weight: ${s.weight}\n          fail_timeout: 60000`,
    )
    .join('\n');
  return text
    .replace(
      / {6}servers:\n(?: {8}- address: .*\n {10}weight: \d+\n)+/,
      `      servers:\n${list}\n`,
    )
    .replace("listen: 0.0.0.0:80 # or a list: [0.0.0.0:80, '[::]:80']", `listen: 127.0.0.1:${port}`)
    .replace('workers: auto', 'workers: 2');
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await request(`http://127.0.0.1:${port}${path}`, { reset: true });
  return { status: r.statusCode, body: await r.body.text() };
}

/** Waits until `done(stats.http)` or throws after a few seconds. */
async function waitHttp(
  admin: number,
  done: (http: NonNullable<Awaited<ReturnType<typeof getStats>>['http']>) => boolean,
): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const http = (await getStats(admin)).http;
    if (http !== undefined && done(http)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`stats never matched: ${JSON.stringify((await getStats(admin)).http)}`);
}

/** Waits for the `count`th reload to be logged, and a moment for the workers to apply it. */
async function reloaded(legate: RunningProcess, count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((legate.output().match(/"msg":"config reloaded/g) ?? []).length >= count) {
      await new Promise((r) => setTimeout(r, 300));
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no reload ${count}: ${legate.output()}`);
}

describe('legate -c splitter.yml -w 2: the HTTP role under the host', () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('the shipped splitter.yml reads as the seed’s split (ip_hash, 9:1)', () => {
    const yaml = splitterYaml(8080, [
      { port: 1, weight: 9 },
      { port: 2, weight: 1 },
    ]);
    assert.match(yaml, /balancer: ip_hash/);
    assert.match(yaml, /address: 127\.0\.0\.1:1\n {10}weight: 9/);
    assert.match(yaml, /listen: 127\.0\.0\.1:8080/);
  });

  it('serves on both workers, reloads on SIGHUP keeping passive health, drains on SIGTERM', async () => {
    const a = await Backend.start((_req, res) => res.end('a'));
    const b = await Backend.start((req, res) => {
      // /slow answers after 700 ms: a request in flight when SIGTERM comes.
      if (req.url === '/slow') setTimeout(() => res.end('b-slow'), 700);
      else res.end('b');
    });
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );
    const port = await freePort();
    const gone = await freePort(); // nothing listens: connection refused
    const conf = writeConfig(
      splitterYaml(port, [
        { port: gone, weight: 1 },
        { port: b.port, weight: 1 },
      ]),
    );
    cleanups.push(() => conf.cleanup());
    const legate: RunningProcess = await startLegate(['-c', conf.file]);
    cleanups.push(() => legate.stop());
    const admin = legate.adminPort as number;
    assert.match(legate.output(), /2 workers/);

    // One client address: ip_hash sends it to one server; the refused one is retried on b and
    // then marked failed for fail_timeout, in the table both workers share.
    const first = [await get(port, '/x')];
    first.push(...(await Promise.all(Array.from({ length: 11 }, () => get(port, '/x')))));
    assert.deepEqual(new Set(first.map((r) => `${r.status} ${r.body}`)), new Set(['200 b']));
    await waitHttp(admin, (h) => h.upstreams[0].requests === 12);
    const before = (await getStats(admin)).http?.upstreams[0];
    assert.ok(before !== undefined);
    // One failure: the other worker never tried it either (nginx, per worker, would try it again).
    const failures = before.servers[0].failures;
    assert.equal(failures, 1);
    assert.equal(before.retries, 1);

    // Reload with the same upstream and one more location: the refused server stays out.
    writeFileSync(
      conf.file,
      readFileSync(conf.file, 'utf8').replace(
        '        - path: /\n          upstream: backend',
        '        - path: /\n          upstream: backend\n        - path: /extra/\n          upstream: backend',
      ),
    );
    legate.child.kill('SIGHUP');
    await reloaded(legate, 1);
    const again = await Promise.all(Array.from({ length: 10 }, () => get(port, '/extra/y')));
    assert.deepEqual(new Set(again.map((r) => r.body)), new Set(['b']));
    await waitHttp(admin, (h) => h.upstreams[0].requests === 22);
    const kept = (await getStats(admin)).http?.upstreams[0];
    assert.equal(kept?.servers[0].failures, failures, 'no new try on the failed server');

    // Reload onto another server set: new requests go to a.
    writeFileSync(
      conf.file,
      splitterYaml(port, [
        { port: a.port, weight: 1 },
        { port: a.port, weight: 1 },
      ]),
    );
    legate.child.kill('SIGHUP');
    await reloaded(legate, 2);
    const moved = await Promise.all(Array.from({ length: 6 }, () => get(port, '/z')));
    assert.deepEqual(new Set(moved.map((r) => r.body)), new Set(['a']));

    // Back to b for the drain: a slow request in flight when SIGTERM comes still gets its answer.
    writeFileSync(conf.file, splitterYaml(port, [{ port: b.port, weight: 1 }]));
    legate.child.kill('SIGHUP');
    await reloaded(legate, 3);
    const slow = get(port, '/slow');
    await new Promise((r) => setTimeout(r, 200));
    const code = legate.stop('SIGTERM');
    assert.deepEqual(await slow, { status: 200, body: 'b-slow' });
    assert.equal(await code, 0);
  });
});
