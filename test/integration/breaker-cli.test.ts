// The circuit breaker as a user runs it: `legate -c envoy.yaml -w 2`. Outlier detection counts
// one host's errors across both workers (3 consecutive 5xx eject it, whichever worker saw each),
// then every worker answers `503 no healthy upstream` at once; /stats and /metrics show it; a
// SIGHUP reload keeps the ejection (the breaker's memory stays with the same servers).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { request } from 'undici';
import { seedEnvoyYaml } from '../../bench/lib/envoy-yaml.ts';
import { getStats, httpGet } from '../helpers/admin.ts';
import { ControlledBackend } from '../helpers/breaker.ts';
import { freePort, type RunningProcess, startLegate, writeConfig } from '../helpers/processes.ts';

let legate: RunningProcess | null = null;
let backend: ControlledBackend | null = null;
let cleanup = () => {};
after(async () => {
  await legate?.stop();
  await backend?.stop();
  cleanup();
});

async function get(port: number): Promise<{ status: number; body: string }> {
  // A new connection each time: the kernel spreads them over both workers.
  const r = await request(`http://127.0.0.1:${port}/`, { reset: true });
  return { status: r.statusCode, body: await r.body.text() };
}

interface BreakerStats {
  hosts: { name: string; ejected: boolean; times_ejected: number }[];
  outlier_detection: Record<string, number>;
  circuit_breakers: Record<string, number>;
}

test('legate -c envoy.yaml -w 2: ejection shared by the workers, 503 at once, in /stats and /metrics, kept on reload', async () => {
  backend = await ControlledBackend.start();
  backend.mode = 500;
  const port = await freePort();
  const config = writeConfig(
    seedEnvoyYaml({
      port,
      backend: backend.port,
      timeoutMs: 2000,
      thresholds: '{ max_requests: 100, track_remaining: true }',
      outlier:
        '{ consecutive_5xx: 3, interval: 1s, base_ejection_time: 60s, max_ejection_percent: 100 }',
    }),
    'envoy.yaml',
  );
  cleanup = config.cleanup;
  legate = await startLegate(['-c', config.file, '-w', '2']);
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await get(port)).status);
  assert.deepEqual(statuses.slice(0, 3), [500, 500, 500]);
  assert.equal(backend.hits, 3, 'the third consecutive 5xx ejected the host, over both workers');
  const after = await get(port);
  assert.deepEqual(after, { status: 503, body: 'no healthy upstream' });
  const admin = legate.adminPort ?? 0;
  const stats = (await getStats(admin)) as unknown as { http: { breakers: BreakerStats[] } };
  const [b] = stats.http.breakers;
  assert.equal(b.hosts[0].ejected, true);
  assert.equal(b.hosts[0].times_ejected, 1);
  assert.equal(b.outlier_detection.ejections_enforced_consecutive_5xx, 1);
  assert.equal(b.circuit_breakers.remaining_rq, 100);
  const metrics = await httpGet(admin, '/metrics');
  assert.match(
    metrics.body,
    new RegExp(
      `^legate_http_host_ejected\\{upstream="backend",host="127\\.0\\.0\\.1:${backend.port}"\\} 1$`,
      'm',
    ),
  );

  legate.child.kill('SIGHUP');
  for (let i = 0; i < 100 && !/"msg":"config reloaded/.test(legate.output()); i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.match(legate.output(), /"msg":"config reloaded/);
  await new Promise((r) => setTimeout(r, 300));
  backend.mode = 'ok';
  assert.deepEqual(
    await get(port),
    { status: 503, body: 'no healthy upstream' },
    'still ejected after the reload',
  );
  assert.equal(backend.hits, 3);
});
