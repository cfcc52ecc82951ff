/**
 * The seed's pod swaps haproxy:2.9 for legate and keeps its ConfigMap: config/haproxy.cfg read
 * through LEGATE_CONFIG (as the pod mounts /usr/local/etc/haproxy/haproxy.cfg), in the dev
 * profile, with psql going through legate to a real PostgreSQL 15 that the file's
 * `option pgsql-check` checks. Only the listening port is changed from the file (5432 may be
 * taken on a shared machine). Admin actions name its backend, or its frontend.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { httpGet } from '../helpers/admin.ts';
import { serverStats } from '../helpers/broker.ts';
import { until } from '../helpers/faults.ts';
import { type PostgresCluster, psqlArgs, startPostgres } from '../helpers/postgres.ts';
import {
  freePort,
  type RunningProcess,
  run,
  startLegate,
  writeConfig,
} from '../helpers/processes.ts';

const SAMPLE = fileURLToPath(new URL('../../config/haproxy.cfg', import.meta.url));

describe('config/haproxy.cfg under legate (LEGATE_CONFIG, APP_ENV dev)', () => {
  let pg: PostgresCluster;
  let legate: RunningProcess;
  let cfg: { file: string; cleanup(): void };
  let port: number;

  before(async () => {
    pg = await startPostgres();
    port = await freePort();
    const text = readFileSync(SAMPLE, 'utf8');
    assert.ok(text.includes('bind 127.0.0.1:5432'));
    cfg = writeConfig(text.replace('bind 127.0.0.1:5432', `bind 127.0.0.1:${port}`), 'haproxy.cfg');
    legate = await startLegate([], {
      LEGATE_CONFIG: cfg.file,
      DEV_DB_ADDR: `127.0.0.1:${pg.port}`,
      PG_CHECK_USER: 'postgres',
    });
  });

  after(async () => {
    await legate?.stop();
    await pg?.stop();
    cfg?.cleanup();
  });

  const psql = (sql: string) =>
    run('psql', psqlArgs(port, sql), { env: { PGCONNECT_TIMEOUT: '5' }, timeoutMs: 20_000 });

  it('psql reaches the dev database through legate', async () => {
    // Until the pgsql-check has found the server up (rise 2, inter 2s).
    await until(async () => (await psql('select 1')).code === 0, 20_000, 'psql through legate');
    const r = await psql("select current_setting('port')");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), String(pg.port));
  });

  it('admin actions name the backend (pg_dev), as HAProxy does, or the frontend sending to it', async () => {
    const admin = legate.adminPort ?? 0;
    const post = (path: string) => httpGet(admin, path, 'POST');
    const drained = await post('/tcp/servers/pg_dev/local?state=drain');
    assert.equal(drained.status, 200, drained.body);
    assert.equal(drained.body, 'server pg_dev/local set to drain\n');
    assert.equal((await serverStats(admin, 'local', 'pg_dev')).status, 'DRAIN');
    // The frontend's name means its default_backend.
    const ready = await post('/tcp/servers/pg_local/local?state=ready');
    assert.equal(ready.status, 200, ready.body);
    assert.equal(ready.body, 'server pg_dev/local set to ready\n');
    assert.equal((await serverStats(admin, 'local', 'pg_dev')).status, 'UP');
    const none = await post('/tcp/servers/pg/local?state=drain');
    assert.equal(none.status, 404);
    assert.equal(
      none.body,
      "no backend or service 'pg' (backends: pg_dev, pg_prod; services: pg_local)\n",
    );
  });

  it("logs the file's warnings at start: in dev, prod's servers have no host", () => {
    // Warn-level lines about the file itself (health changes are logged at warn too).
    const warnings = legate
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":40'))
      .map((line) => (JSON.parse(line) as { msg: string }).msg)
      .filter((msg) => msg.startsWith(cfg.file));
    assert.deepEqual(warnings, [
      `${cfg.file}:38:20: backend pg_prod: server 'primary' has no host (an unset variable?): HAProxy reads that as 0.0.0.0, this machine, and so does legate`,
      `${cfg.file}:39:20: backend pg_prod: server 'standby' has no host (an unset variable?): HAProxy reads that as 0.0.0.0, this machine, and so does legate`,
    ]);
  });
});
