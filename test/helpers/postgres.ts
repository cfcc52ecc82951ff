// Real PostgreSQL 15 clusters for tests, on 127.0.0.1 free ports. The server refuses to run as
// root, so initdb, postgres and pg_basebackup run with the `postgres` user's uid/gid, spawned by
// the pieces `legate demo` starts its database with (engine/cli/demo/postgres.ts).
// Each cluster lives in its own mktemp directory (data, unix socket, TLS files), chowned to
// postgres, so any number of clusters run at once; stop() removes it.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chownTree,
  initCluster,
  postgresUserIds,
  runPostgresTool,
  spawnPostgres,
  stopPostgres,
  waitUntilReady,
} from '../../engine/cli/demo/postgres.ts';
import { freePort, run } from './processes.ts';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** How TCP connections (127.0.0.1) authenticate. The unix socket is always `trust` for postgres. */
export type PostgresAuth = 'trust' | 'password' | 'md5' | 'scram-sha-256';

export interface PostgresOptions {
  /** pg_hba method for TCP connections; default trust. */
  readonly auth?: PostgresAuth;
  /** A login role created at start (with `password`, stored as md5 when auth is md5, else SCRAM). */
  readonly user?: string;
  readonly password?: string;
  /** ssl=on with a self-signed certificate made by `openssl req`. */
  readonly tls?: boolean;
  /** Only `hostssl` lines for TCP (like RDS force_ssl): a plaintext login is refused by pg_hba. Implies tls. */
  readonly hostsslOnly?: boolean;
  /** Make this cluster a streaming standby of `standbyOf` (pg_basebackup -R -X stream); it keeps the primary's auth and TLS. */
  readonly standbyOf?: PostgresCluster;
}

export interface PostgresCluster {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The role created by the `user` option, else `postgres`. */
  readonly user: string;
  readonly password: string | null;
  /** Directory of the server's unix socket (psql -h DIR connects as postgres with trust). */
  readonly socketDir: string;
  readonly dataDir: string;
  /** Runs SQL as the superuser over the unix socket; returns psql's unaligned tuples-only output, trimmed. */
  psql(sql: string): Promise<string>;
  /** The server's log (stderr) so far, its last 64 KB. */
  log(): string;
  /** Whether the postmaster is running. */
  running(): boolean;
  /** Stops the server (immediate) but keeps the data, so start() can bring it back on the same port. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and waits until it takes connections. */
  start(): Promise<void>;
  /** Promotes a standby and waits until it is a primary. */
  promote(): Promise<void>;
  /** Stops the server (pg_ctl stop -m immediate semantics: SIGQUIT) and removes its directory. */
  stop(): Promise<void>;
}

function hbaConf(auth: PostgresAuth, hostsslOnly: boolean): string {
  const tcp = hostsslOnly ? 'hostssl' : 'host';
  return [
    'local all all trust',
    'local replication all trust',
    `${tcp} all all 127.0.0.1/32 ${auth}`,
    `${tcp} replication all 127.0.0.1/32 ${auth}`,
    '',
  ].join('\n');
}

function makeCertificate(dataDir: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-keyout',
      join(dataDir, 'server.key'),
      '-out',
      join(dataDir, 'server.crt'),
    ],
    { stdio: 'ignore' },
  );
  // The server refuses a key file that others can read.
  chmodSync(join(dataDir, 'server.key'), 0o600);
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function quoteIdent(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** psql's arguments for one statement on 127.0.0.1:`port` (a server or legate), as postgres. */
export function psqlArgs(port: number, sql: string): string[] {
  return [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'postgres',
    '-d',
    'postgres',
    '-XAtq',
    '-c',
    sql,
  ];
}

/** Starts a PostgreSQL 15 cluster (or a standby of one) and waits until it takes connections. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresCluster> {
  const primary = options.standbyOf ?? null;
  const auth = options.auth ?? 'trust';
  const hostsslOnly = options.hostsslOnly ?? false;
  const tls = (options.tls ?? false) || hostsslOnly;
  const dir = mkdtempSync(join(tmpdir(), 'legate-pg-'));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  const port = await freePort();
  let child: ChildProcess | null = null;
  let log = '';
  const user = primary ? primary.user : (options.user ?? 'postgres');
  const password = primary ? primary.password : (options.password ?? null);

  const psql = async (sql: string): Promise<string> => {
    const r = await run(
      join(PG_BIN, 'psql'),
      ['-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-XAtq'],
      { input: sql, env: { PGCONNECT_TIMEOUT: '10' }, timeoutMs: 30_000 },
    );
    // psql without ON_ERROR_STOP exits 0 after an SQL error; stderr says ERROR then.
    if (r.code !== 0 || /^(ERROR|FATAL):/m.test(r.stderr))
      throw new Error(`psql on port ${port} failed (${r.code}): ${r.stderr}\nSQL: ${sql}`);
    return r.stdout.toString().trim();
  };

  const launch = async (): Promise<void> => {
    log = '';
    const proc = spawnPostgres(PG_BIN, postgresUserIds(), dir, dataDir, {
      port: String(port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: socketDir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      shared_buffers: '16MB',
      max_connections: '60',
      ssl: tls ? 'on' : 'off',
      password_encryption: auth === 'md5' ? 'md5' : 'scram-sha-256',
    });
    child = proc;
    proc.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.length > 65536) log = log.slice(-65536);
    });
    await waitUntilReady(proc, () => log, `postgres on port ${port}`);
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = null;
    // Immediate shutdown, as pg_ctl stop -m immediate sends.
    if (proc) await stopPostgres(proc, 'SIGQUIT');
  };

  try {
    mkdirSync(socketDir);
    chownTree(dir, postgresUserIds());
    if (primary) {
      await runPostgresTool(PG_BIN, postgresUserIds(), dir, 'pg_basebackup', [
        '-d',
        `host=${primary.socketDir} port=${primary.port} user=postgres`,
        '-D',
        dataDir,
        '-R',
        '-X',
        'stream',
        '--no-sync',
      ]);
    } else {
      await initCluster(PG_BIN, postgresUserIds(), dir, dataDir);
      writeFileSync(join(dataDir, 'pg_hba.conf'), hbaConf(auth, hostsslOnly));
      if (tls) makeCertificate(dataDir);
      chownTree(dataDir, postgresUserIds());
    }
    await launch();
    if (!primary && options.user !== undefined && options.user !== 'postgres') {
      const pw = password === null ? '' : ` PASSWORD ${quoteLiteral(password)}`;
      await psql(`CREATE ROLE ${quoteIdent(options.user)} LOGIN${pw};`);
    } else if (!primary && password !== null) {
      await psql(`ALTER ROLE postgres PASSWORD ${quoteLiteral(password)};`);
    }
  } catch (err) {
    await halt();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    socketDir,
    dataDir,
    psql,
    log: () => log,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    halt,
    start: launch,
    async promote() {
      await psql('SELECT pg_promote(true, 60);');
      const deadline = Date.now() + 60_000;
      while ((await psql('SELECT pg_is_in_recovery();')) !== 'f') {
        if (Date.now() > deadline) throw new Error(`standby on port ${port} did not promote`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
