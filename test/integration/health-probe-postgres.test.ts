// The `postgres` health check against real PostgreSQL 15 clusters: HAProxy's pgsql-check
// behaviour (ssl: disable), TLS-first checks that pass where HAProxy's fails (hostssl only),
// requirePrimary telling a primary from a standby (and seeing a promotion), login with every
// password method, and the failures: wrong password, server stopped, server silent.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { HealthCheckKind } from '../../engine/config/tcp-types.ts';
import { runCheck } from '../../engine/health/probes/index.ts';
import { type PostgresCluster, startPostgres } from '../helpers/postgres.ts';
import { freePort } from '../helpers/processes.ts';
import { startScriptedServer } from '../helpers/tcp-servers.ts';

const TIMEOUT = 5000;

function pg(
  options: Partial<Extract<HealthCheckKind, { kind: 'postgres' }>> = {},
): HealthCheckKind {
  return {
    kind: 'postgres',
    user: 'postgres',
    database: null,
    password: null,
    ssl: 'disable',
    requirePrimary: false,
    ...options,
  };
}

/** Sockets and TLS wraps the process holds now: a probe must leave none behind. */
function openSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap')
    .length;
}

let trust: PostgresCluster;
let forceSsl: PostgresCluster;
let md5: PostgresCluster;
let cleartext: PostgresCluster;
let primary: PostgresCluster;
let standby: PostgresCluster;

before(async () => {
  [trust, forceSsl, md5, cleartext, primary] = await Promise.all([
    startPostgres(),
    startPostgres({ auth: 'scram-sha-256', user: 'app', password: 'pa ss', hostsslOnly: true }),
    startPostgres({ auth: 'md5', user: 'app', password: 'md5pw' }),
    startPostgres({ auth: 'password', user: 'app', password: 'clear' }),
    startPostgres({ auth: 'scram-sha-256', user: 'app', password: 'pw', tls: true }),
  ]);
  standby = await startPostgres({ standbyOf: primary });
});

after(async () => {
  await Promise.all([trust, forceSsl, md5, cleartext, primary, standby].map((c) => c?.stop()));
});

describe('postgres check, HAProxy pgsql-check behaviour (ssl: disable)', () => {
  it('passes on a trust server (AuthenticationOk) and on one asking for a password', async () => {
    const a = await runCheck(pg(), trust, TIMEOUT);
    assert.deepEqual([a.ok, a.code], [true, 'L7OK'], a.reason);
    assert.match(a.reason, /PostgreSQL server is ok \(asks for no password \(trust\)\)/);
    const b = await runCheck(pg({ user: 'app' }), md5, TIMEOUT);
    assert.deepEqual([b.ok, b.code], [true, 'L7OK'], b.reason);
    assert.match(b.reason, /asks for an MD5 password/);
    const c = await runCheck(pg({ user: 'app', database: 'postgres' }), primary, TIMEOUT);
    assert.equal(c.code, 'L7OK', c.reason);
    assert.match(c.reason, /asks for SASL/);
  });

  it('fails with the pg_hba error against a hostssl-only server (HAProxy issue #2305)', async () => {
    const r = await runCheck(pg({ user: 'app' }), forceSsl, TIMEOUT);
    assert.equal(r.ok, false);
    assert.equal(r.code, 'L7RSP');
    assert.match(
      r.reason,
      /^PostgreSQL refused: FATAL 28000 no pg_hba\.conf entry for host "127\.0\.0\.1", user "app", database "app", no encryption$/,
    );
  });

  it('cannot tell a standby from its primary: both pass', async () => {
    assert.equal((await runCheck(pg({ user: 'app' }), standby, TIMEOUT)).code, 'L7OK');
    assert.equal((await runCheck(pg({ user: 'app' }), primary, TIMEOUT)).code, 'L7OK');
  });
});

describe('postgres check with TLS first (ssl: prefer | require)', () => {
  it('prefer passes over TLS where the plaintext check is refused', async () => {
    const r = await runCheck(pg({ user: 'app', ssl: 'prefer' }), forceSsl, TIMEOUT);
    assert.deepEqual([r.ok, r.code], [true, 'L7OK'], r.reason);
    assert.match(r.reason, /over TLS/);
  });

  it('prefer falls back to plaintext on a server without TLS (N); require fails there', async () => {
    const p = await runCheck(pg({ ssl: 'prefer' }), trust, TIMEOUT);
    assert.equal(p.code, 'L7OK', p.reason);
    assert.doesNotMatch(p.reason, /TLS/);
    const r = await runCheck(pg({ ssl: 'require' }), trust, TIMEOUT);
    assert.deepEqual([r.ok, r.code], [false, 'L6RSP']);
    assert.equal(r.reason, 'server does not offer TLS (answered N to the SSLRequest)');
    const t = await runCheck(pg({ user: 'app', ssl: 'require' }), forceSsl, TIMEOUT);
    assert.equal(t.code, 'L7OK', t.reason);
  });
});

describe('postgres check with requirePrimary (login, then SELECT pg_is_in_recovery())', () => {
  const login = (
    user: string,
    password: string | null,
    ssl: 'disable' | 'prefer' | 'require' = 'prefer',
  ) => pg({ user, password, ssl, requirePrimary: true, database: 'postgres' });

  it('logs in with trust, cleartext, MD5 and SCRAM-SHA-256 (over TLS too) and sees a primary', async () => {
    for (const [name, cluster, kind] of [
      ['trust', trust, login('postgres', null)],
      ['cleartext', cleartext, login('app', 'clear')],
      ['md5', md5, login('app', 'md5pw')],
      ['scram over tls', forceSsl, login('app', 'pa ss', 'require')],
      ['scram plaintext', primary, login('app', 'pw', 'disable')],
    ] as const) {
      const r = await runCheck(kind, cluster, TIMEOUT);
      assert.deepEqual([name, r.ok, r.code], [name, true, 'L7OK'], r.reason);
      assert.match(r.reason, /^primary \(not in recovery\)/);
    }
  });

  it('marks a standby DOWN, and passes once it is promoted', async () => {
    const before = await runCheck(login('app', 'pw'), standby, TIMEOUT);
    assert.deepEqual(
      [before.ok, before.code, before.reason],
      [false, 'L7STS', 'standby (in recovery)'],
    );
    const onPrimary = await runCheck(login('app', 'pw'), primary, TIMEOUT);
    assert.equal(onPrimary.code, 'L7OK', onPrimary.reason);
    await standby.promote();
    const afterPromote = await runCheck(login('app', 'pw'), standby, TIMEOUT);
    assert.deepEqual([afterPromote.ok, afterPromote.code], [true, 'L7OK'], afterPromote.reason);
  });

  it('reports a wrong password and a missing one', async () => {
    const wrong = await runCheck(login('app', 'nope'), md5, TIMEOUT);
    assert.deepEqual([wrong.ok, wrong.code], [false, 'L7RSP']);
    assert.equal(
      wrong.reason,
      'PostgreSQL refused: FATAL 28P01 password authentication failed for user "app"',
    );
    const scram = await runCheck(login('app', 'nope', 'require'), forceSsl, TIMEOUT);
    assert.equal(
      scram.reason,
      'PostgreSQL refused: FATAL 28P01 password authentication failed for user "app"',
    );
    const none = await runCheck(login('app', null), md5, TIMEOUT);
    assert.deepEqual([none.ok, none.code], [false, 'L7STS']);
    assert.match(none.reason, /asks for an MD5 password and the check has no password/);
  });
});

describe('postgres check failures below the protocol', () => {
  let silent: Server;
  let silentPort: number;
  /** The silent server's accepted sockets, and when each one's handle closed. */
  const held: { socket: Socket; closed: Promise<unknown> }[] = [];
  before(async () => {
    silent = createServer((socket) => {
      held.push({ socket, closed: new Promise((r) => socket.once('close', r)) });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as { port: number }).port;
  });
  after(() => {
    for (const h of held) h.socket.destroy();
    silent.close();
  });

  it('a stopped server is L4CON', async () => {
    const port = await freePort();
    const r = await runCheck(pg(), { host: '127.0.0.1', port }, TIMEOUT);
    assert.deepEqual([r.ok, r.code], [false, 'L4CON']);
    assert.match(r.reason, /connection refused/);
  });

  it('a server that accepts and never answers is L7TOUT after the timeout, in every mode', async () => {
    for (const ssl of ['disable', 'prefer'] as const) {
      const r = await runCheck(pg({ ssl }), { host: '127.0.0.1', port: silentPort }, 300);
      assert.deepEqual([ssl, r.ok, r.code], [ssl, false, 'L7TOUT']);
      assert.ok(r.durationMs >= 290 && r.durationMs < 2000, `took ${r.durationMs} ms`);
    }
  });

  it('a server halted after passing goes to L4CON, and back to L7OK when restarted', async () => {
    const c = await startPostgres();
    try {
      assert.equal((await runCheck(pg(), c, TIMEOUT)).code, 'L7OK');
      await c.halt();
      assert.equal((await runCheck(pg(), c, TIMEOUT)).code, 'L4CON');
      await c.start();
      assert.equal((await runCheck(pg({ requirePrimary: true }), c, TIMEOUT)).code, 'L7OK');
    } finally {
      await c.stop();
    }
  });

  it("TLS faults: 'S' then silence is L6TOUT; bytes sent after 'S' before the handshake are L6RSP", async () => {
    const silentAfterS = await startScriptedServer((s) => s.once('data', () => s.write('S')));
    // CVE-2021-23222: a server (or a man in the middle) must not slip plaintext in after 'S'.
    const stuffing = await startScriptedServer((s) =>
      s.once('data', () => s.write('SR\0\0\0\x08\0\0\0\0')),
    );
    try {
      const t = await runCheck(
        pg({ ssl: 'prefer' }),
        { host: '127.0.0.1', port: silentAfterS.port },
        300,
      );
      assert.deepEqual([t.ok, t.code, t.reason], [false, 'L6TOUT', 'TLS handshake timed out']);
      const r = await runCheck(
        pg({ ssl: 'require' }),
        { host: '127.0.0.1', port: stuffing.port },
        TIMEOUT,
      );
      assert.deepEqual(
        [r.ok, r.code, r.reason],
        [false, 'L6RSP', 'server sent data before the TLS handshake'],
      );
    } finally {
      await Promise.all([silentAfterS.close(), stuffing.close()]);
    }
  });

  it('leaves no socket behind, whatever the outcome', async () => {
    // The silent server's own accepted sockets are the test's, not the probe's: drop them.
    const dropHeld = async () => {
      await Promise.all(
        held.splice(0).map((h) => {
          h.socket.destroy();
          return h.closed;
        }),
      );
    };
    await dropHeld();
    // Earlier tests' sockets finish closing first, so they do not count here.
    await new Promise((r) => setTimeout(r, 100));
    const base = openSockets();
    const results = await Promise.all([
      runCheck(
        pg({
          user: 'app',
          database: 'postgres',
          ssl: 'prefer',
          password: 'pa ss',
          requirePrimary: true,
        }),
        forceSsl,
        TIMEOUT,
      ),
      runCheck(pg({ user: 'app' }), forceSsl, TIMEOUT),
      runCheck(pg(), { host: '127.0.0.1', port: silentPort }, 200),
      runCheck(pg({ ssl: 'require' }), trust, TIMEOUT),
    ]);
    assert.deepEqual(
      results.map((r) => r.code),
      ['L7OK', 'L7RSP', 'L7TOUT', 'L6RSP'],
    );
    await dropHeld();
    assert.equal(openSockets(), base);
  });
});

describe('postgres check naming a database', () => {
  it('a database that does not exist is refused with the server message', async () => {
    const r = await runCheck(
      pg({ user: 'app', database: 'nosuch', ssl: 'prefer' }),
      forceSsl,
      TIMEOUT,
    );
    // Without requirePrimary the check stops at the password request, before the database is opened.
    assert.equal(r.code, 'L7OK', r.reason);
    const login = await runCheck(
      pg({
        user: 'app',
        database: 'nosuch',
        password: 'pa ss',
        ssl: 'prefer',
        requirePrimary: true,
      }),
      forceSsl,
      TIMEOUT,
    );
    assert.deepEqual([login.ok, login.code], [false, 'L7RSP']);
    assert.equal(login.reason, 'PostgreSQL refused: FATAL 3D000 database "nosuch" does not exist');
  });
});
