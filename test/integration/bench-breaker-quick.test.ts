// The breaker bench's harness works end to end (`--quick`): backend, nginx, legate with and
// without guards, wrk, the hung phase and the cascade, and its outputs. Speed is never asserted;
// what must hold whatever the speed is asserted: legate answers 503s while the backend hangs,
// and nginx's answers wait out its timeout.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NODE, run } from '../helpers/processes.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'legate-bench-breaker-'));

after(() => rmSync(out, { recursive: true, force: true }));

test('npm run bench -- breaker --quick prints its three tables and writes JSON and a chart', async () => {
  const r = await run(NODE, [join(ROOT, 'bench/run.ts'), 'breaker', '--quick', '--out', out], {
    timeoutMs: 180_000,
  });
  const stdout = r.stdout.toString();
  assert.equal(r.code, 0, `exit ${r.code}\n${stdout}\n${r.stderr}`);
  for (const row of ['direct', 'nginx keepalive', 'legate, no breaker', 'legate + breakers'])
    assert.ok(stdout.includes(`| ${row} `), `row ${row}\n${stdout}`);
  assert.match(stdout, /### Backend hung/);
  assert.match(stdout, /### Cascade/);
  const json = JSON.parse(readFileSync(join(out, 'breaker.json'), 'utf8')) as {
    hung: Record<string, { non2xx: number; p50Ms: number; requests: number }>;
  };
  const legate = json.hung['legate (ejected, 503 at once)'];
  const nginx = json.hung['nginx (waits proxy_read_timeout)'];
  assert.ok(
    legate.requests > 0 && legate.non2xx === legate.requests,
    'legate answered every request, none 2xx',
  );
  assert.ok(nginx.p50Ms >= 240, `nginx waited its 250 ms timeout (${nginx.p50Ms} ms)`);
  // The one-connection probes of the fast path: every answer a 503, none waited for the backend.
  for (const row of ['legate (ejected), wrk -c1', 'legate classic breaker (open), wrk -c1']) {
    const p = json.hung[row];
    assert.ok(p.requests > 0 && p.non2xx === p.requests, `${row}: every answer not 2xx`);
    assert.ok(p.p50Ms < 240, `${row}: answered before the route timeout (${p.p50Ms} ms)`);
  }
  assert.ok(existsSync(join(out, 'README-breaker.svg')));
});
