// PostgreSQL 15 through the broker: psql and pgbench sessions spread over two servers, a
// CancelRequest reaching the server that runs the query (HAProxy sends it to the wrong one
// behind roundrobin), sslmode=require passing through untouched, and a TLS session's cancel
// (whose key legate cannot read) still cancelling, sent to every server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CANCEL_REQUEST_CODE, SSL_REQUEST_CODE } from '../../workers/tcp/postgres/startup.ts';
import { type Broker, serviceYaml, startBroker, tcpStats } from '../helpers/broker.ts';
import { sleep, until } from '../helpers/faults.ts';
import { PgRawSession } from '../helpers/pg-raw.ts';
import { PG_BIN, type PostgresCluster, psqlArgs, startPostgres } from '../helpers/postgres.ts';
import { freePort, run } from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';
import { startFrozenListener } from '../helpers/tcp-servers.ts';

let pg: PostgresCluster[] = [];
let broker: Broker;
let port: number;

function psql(sql: string, sslmode = 'disable') {
  return run(`${PG_BIN}/psql`, psqlArgs(port, sql), {
    env: { PGSSLMODE: sslmode, PGCONNECT_TIMEOUT: '10' },
    timeoutMs: 60000,
  });
}

before(async () => {
  pg = await Promise.all([startPostgres({ tls: true }), startPostgres({ tls: true })]);
  port = await freePort();
  broker = await startBroker(
    serviceYaml({
      port,
      keys: 'balance: roundrobin\ncheck:\n  type: postgres\n  user: postgres\n  interval: 500',
      servers: pg.map((c, i) => `- address: 127.0.0.1:${c.port}\n  name: pg${i}`).join('\n'),
    }),
  );
});

after(async () => {
  await broker?.stop();
  await Promise.all(pg.map((c) => c.stop()));
});

describe('PostgreSQL through the broker', () => {
  it('psql sessions reach both servers (roundrobin); the postgres check passes', async () => {
    const ports = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await psql('SHOW port');
      assert.equal(r.code, 0, r.stderr);
      ports.add(r.stdout.toString().trim());
    }
    assert.deepEqual([...ports].sort(), pg.map((c) => String(c.port)).sort());
    const stats = await tcpStats(broker.adminPort);
    for (const s of stats.backends[0].servers) {
      assert.equal(s.status, 'UP');
      assert.match(s.check?.code ?? '', /^L7OK$/);
    }
  });

  it('pgbench -S through legate completes with every transaction', async () => {
    for (const c of pg) {
      const init = await run(
        `${PG_BIN}/pgbench`,
        [
          '-i',
          '-s',
          '1',
          '-q',
          '-h',
          '127.0.0.1',
          '-p',
          String(c.port),
          '-U',
          'postgres',
          'postgres',
        ],
        { timeoutMs: 120000 },
      );
      assert.equal(init.code, 0, init.stderr);
    }
    const r = await run(
      `${PG_BIN}/pgbench`,
      [
        '-S',
        '-c',
        '4',
        '-j',
        '2',
        '-t',
        '200',
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        'postgres',
        'postgres',
      ],
      { timeoutMs: 120000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /number of transactions actually processed: 800\/800/);
  });

  it('a CancelRequest reaches the server that runs the query, every time (two servers, roundrobin)', async () => {
    const reached = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const s = await PgRawSession.login(port);
      try {
        reached.add(Number(await s.query('SHOW port')));
        const started = Date.now();
        s.send('SELECT pg_sleep(30)');
        await new Promise((r) => setTimeout(r, 300));
        s.cancelVia(port);
        const answer = await s.untilReady(20000);
        assert.match(answer.toString('latin1'), /canceling statement due to user request/);
        assert.ok(Date.now() - started < 15000, `cancelled after ${Date.now() - started} ms`);
      } finally {
        s.close();
      }
    }
    assert.equal(reached.size, 2, 'the sessions ran on both servers');
  });

  it('sslmode=require passes through: the session is TLS end to end', async () => {
    const r = await psql('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', 'require');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), 't');
  });

  it("a TLS session's cancel (key unreadable to legate) is sent to every server and cancels", async () => {
    const started = Date.now();
    const child = spawn(`${PG_BIN}/psql`, psqlArgs(port, 'SELECT pg_sleep(30)'), {
      env: { ...process.env, PGSSLMODE: 'require' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise((r) => setTimeout(r, 1500));
    // On SIGINT psql sends a CancelRequest on a new (plaintext) connection to the same host:port.
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 25000);
    await exited;
    clearTimeout(timer);
    assert.match(stderr, /canceling statement due to user request/);
    assert.ok(Date.now() - started < 20000, `took ${Date.now() - started} ms`);
  });
});

describe('PostgreSQL-aware timeouts', () => {
  it('the first message may come until client_timeout, not connect_timeout', async () => {
    const slowPort = await freePort();
    const slow = await startBroker(
      serviceYaml({
        port: slowPort,
        keys: 'postgres: true\nconnect_timeout: 200\nclient_timeout: 1500',
        servers: `- address: 127.0.0.1:${pg[0].port}`,
      }),
      { workers: 1 },
    );
    try {
      // An SSLRequest sent late, past connect_timeout: the server still answers it ('S').
      const late = await RawClient.connect(slowPort);
      await sleep(600);
      const sslRequest = Buffer.alloc(8);
      sslRequest.writeInt32BE(8, 0);
      sslRequest.writeInt32BE(SSL_REQUEST_CODE, 4);
      late.write(sslRequest);
      const answer = await new Promise<string>((resolve) => {
        if (late.closed) resolve('closed by legate');
        late.socket.once('data', (d: Buffer) => resolve(d.toString('latin1')));
        late.socket.once('close', () => resolve('closed by legate'));
      });
      assert.equal(answer, 'S');
      late.close();
      // A client that sends nothing is closed after client_timeout.
      const silent = await RawClient.connect(slowPort);
      const started = Date.now();
      assert.ok(await silent.waitClosed(5000), 'closed');
      const waited = Date.now() - started;
      assert.ok(waited >= 1300 && waited < 4000, `closed after ${waited} ms`);
    } finally {
      await slow.stop();
    }
  });

  it('a CancelRequest toward a server that does not answer is given up after connect_timeout', async () => {
    const frozen = await startFrozenListener();
    const cancelPort = await freePort();
    const cancelBroker = await startBroker(
      serviceYaml({
        port: cancelPort,
        keys: 'postgres: true\nconnect_timeout: 500',
        servers: `- address: 127.0.0.1:${frozen.port}\n  name: frozen`,
      }),
      { workers: 1 },
    );
    const pid = cancelBroker.legate.child.pid ?? 0;
    const sockets = () =>
      readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
        } catch {
          return false;
        }
      }).length;
    try {
      const idle = sockets();
      // A key no session has: sent to every server of the backend, here the frozen one.
      const cancel = Buffer.alloc(16);
      cancel.writeInt32BE(16, 0);
      cancel.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      cancel.writeInt32BE(4242, 8);
      cancel.writeInt32BE(1234, 12);
      for (let i = 0; i < 3; i++) {
        const c = await RawClient.connect(cancelPort);
        c.write(cancel);
        assert.ok(await c.waitClosed(3000), 'legate closes the client side at once');
      }
      await until(async () => sockets() >= idle + 3, 2000, 'three legs connecting');
      await until(async () => sockets() <= idle, 3000, 'the legs given up after connect_timeout');
    } finally {
      await cancelBroker.stop();
      await frozen.close();
    }
  });
});
