// The PostgreSQL test harness itself: real clusters start as the postgres user on free loopback
// ports, two at once, with password auth, TLS (hostssl only) and a standby that promotes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { PG_BIN, type PostgresCluster, startPostgres } from '../helpers/postgres.ts';
import { run } from '../helpers/processes.ts';

const started: PostgresCluster[] = [];
after(async () => {
  await Promise.all(started.map((c) => c.stop()));
});

/** psql over TCP as a client would connect, with a password and an sslmode. */
function tcpPsql(c: PostgresCluster, sql: string, sslmode: string, password = c.password ?? '') {
  return run(
    `${PG_BIN}/psql`,
    ['-h', c.host, '-p', String(c.port), '-U', c.user, '-d', 'postgres', '-XAtq', '-c', sql],
    { env: { PGPASSWORD: password, PGSSLMODE: sslmode, PGCONNECT_TIMEOUT: '10' } },
  );
}

describe('PostgreSQL harness', () => {
  it('starts two clusters at once, answers SQL, stops and removes its directory', async () => {
    const [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    started.push(a, b);
    assert.notEqual(a.port, b.port);
    assert.equal(await a.psql('SELECT 1'), '1');
    assert.equal(await b.psql('SELECT 40 + 2'), '42');
    assert.equal(await a.psql('SHOW fsync'), 'off');
    const tcp = await tcpPsql(a, 'SELECT current_user', 'disable');
    assert.equal(tcp.code, 0, tcp.stderr);
    assert.equal(tcp.stdout.toString().trim(), 'postgres');
    await a.stop();
    assert.equal(a.running(), false);
    assert.equal(existsSync(a.dataDir), false);
    assert.equal(b.running(), true);
  });

  it('scram password auth over hostssl only: plaintext refused by pg_hba, TLS with the password passes', async () => {
    const c = await startPostgres({
      auth: 'scram-sha-256',
      user: 'app',
      password: 's3cret',
      hostsslOnly: true,
    });
    started.push(c);
    const plain = await tcpPsql(c, 'SELECT 1', 'disable');
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /no pg_hba\.conf entry for host "127\.0\.0\.1", user "app"/);
    const wrong = await tcpPsql(c, 'SELECT 1', 'require', 'nope');
    assert.match(wrong.stderr, /password authentication failed for user "app"/);
    const ok = await tcpPsql(
      c,
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      'require',
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.toString().trim(), 't');
  });

  it('a standby follows its primary, halts and restarts, and promote() makes it a primary', async () => {
    const primary = await startPostgres({ auth: 'md5', user: 'app', password: 'pw' });
    started.push(primary);
    await primary.psql('CREATE TABLE t (v int); INSERT INTO t VALUES (7);');
    const standby = await startPostgres({ standbyOf: primary });
    started.push(standby);
    assert.equal(await standby.psql('SELECT pg_is_in_recovery()'), 't');
    assert.equal(await standby.psql('SELECT v FROM t'), '7');
    const login = await tcpPsql(standby, 'SELECT current_user', 'disable');
    assert.equal(login.stdout.toString().trim(), 'app', login.stderr);
    await standby.halt();
    assert.equal(standby.running(), false);
    await standby.start();
    assert.equal(await standby.psql('SELECT pg_is_in_recovery()'), 't');
    await standby.promote();
    assert.equal(await standby.psql('SELECT pg_is_in_recovery()'), 'f');
    await standby.psql('INSERT INTO t VALUES (8)');
    assert.equal(await primary.psql('SELECT count(*) FROM t'), '1');
  });
});
