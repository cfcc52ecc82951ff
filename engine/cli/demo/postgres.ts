/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 (the demo's database and the TCP bench's; the
 * tests' clusters in test/helpers/postgres.ts use the same pieces). The server refuses to run as
 * root, so as root initdb and postgres run with the `postgres` user's uid/gid (node's spawn does
 * the setuid; no su/runuser wrapper whose signal handling we would depend on). The cluster lives
 * in a mktemp directory (data and unix socket) that stop() removes.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LegateError } from '../../errors.ts';

const DEBIAN_ROOT = '/usr/lib/postgresql';

/** The newest `/usr/lib/postgresql/N/bin` holding initdb and postgres (Debian's layout); null when none. */
export function findPostgresBin(root = DEBIAN_ROOT): string | null {
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    return null;
  }
  const bins = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'));
  return (
    bins.find((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) ?? null
  );
}

/** A uid/gid to run the server as. */
export interface Account {
  readonly uid: number;
  readonly gid: number;
}

let postgresUser: Account | null = null;

/** The `postgres` user's ids; throws LEGATE_POSTGRES_ACCOUNT when there is no such user. */
export function postgresUserIds(): Account {
  if (postgresUser === null) {
    try {
      postgresUser = {
        uid: Number(execFileSync('id', ['-u', 'postgres'], { stdio: 'pipe' }).toString().trim()),
        gid: Number(execFileSync('id', ['-g', 'postgres'], { stdio: 'pipe' }).toString().trim()),
      };
    } catch {
      throw new LegateError(
        'LEGATE_POSTGRES_ACCOUNT',
        "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as",
      );
    }
  }
  return postgresUser;
}

/** Who runs the server: the postgres user when we are root, else we do (null: no setuid). */
export function serverAccount(): Account | null {
  return process.getuid?.() === 0 ? postgresUserIds() : null;
}

/** Gives `path` and everything under it to `account` (when the server runs as another user). */
export function chownTree(path: string, account: Account | null): void {
  if (account !== null) execFileSync('chown', ['-R', `${account.uid}:${account.gid}`, path]);
}

function environment(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C', HOME: home };
}

/** Runs a PostgreSQL program (initdb, pg_basebackup) to completion as `account`; throws with its output on failure. */
export async function runPostgresTool(
  bin: string,
  account: Account | null,
  cwd: string,
  program: string,
  args: readonly string[],
): Promise<void> {
  const child = spawn(join(bin, program), args, {
    ...(account ?? {}),
    cwd,
    env: environment(cwd),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).finally(() => clearTimeout(timer));
  if (code !== 0) {
    throw new LegateError(
      'LEGATE_POSTGRES_TOOL',
      `${program} ${args.join(' ')} exited ${code}:\n${out}`,
    );
  }
}

/** initdb: a cluster in `dataDir` whose superuser is postgres, trusted (pg_hba may be rewritten after). */
export function initCluster(
  bin: string,
  account: Account | null,
  cwd: string,
  dataDir: string,
): Promise<void> {
  return runPostgresTool(bin, account, cwd, 'initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--no-sync',
    '--no-instructions',
    '--locale=C',
    '--encoding=UTF8',
    '--auth=trust',
  ]);
}

/** Spawns the postmaster as `account` with `-c NAME=VALUE` settings; its stderr is piped. */
export function spawnPostgres(
  bin: string,
  account: Account | null,
  cwd: string,
  dataDir: string,
  settings: Readonly<Record<string, string>>,
): ChildProcess {
  const args = ['-D', dataDir];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  return spawn(join(bin, 'postgres'), args, {
    ...(account ?? {}),
    cwd,
    env: environment(cwd),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** Waits until the server logs that it takes connections; throws with its log if it exits or takes too long. */
export async function waitUntilReady(
  child: ChildProcess,
  log: () => string,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A primary and a standby both log "ready to accept …connections" once they take logins.
  while (!/database system is ready to accept/.test(log())) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new LegateError(
        'LEGATE_PROCESS_START',
        `${what} exited (${child.exitCode}):\n${log()}`,
      );
    if (Date.now() > deadline)
      throw new LegateError(
        'LEGATE_PROCESS_START',
        `${what} did not start in ${timeoutMs / 1000} s:\n${log()}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Ends a postmaster (`signal`: SIGINT is a fast shutdown, SIGQUIT immediate) and waits; SIGKILL after 10 s. */
export async function stopPostgres(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The demo's database: user postgres, trust on 127.0.0.1. */
export interface LocalPostgres {
  readonly port: number;
  readonly version: string;
  stop(): Promise<void>;
}

/** initdb and start a cluster in a fresh temporary directory, listening on 127.0.0.1:port. */
export async function startLocalPostgres(bin: string, port: number): Promise<LocalPostgres> {
  const account = serverAccount();
  const dir = mkdtempSync(join(tmpdir(), 'legate-demo-pg-'));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  let child: ChildProcess | null = null;
  let log = '';
  try {
    mkdirSync(socketDir);
    chownTree(dir, account);
    await initCluster(bin, account, dir, dataDir);
    const proc = spawnPostgres(bin, account, dir, dataDir, {
      port: String(port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: socketDir,
      fsync: 'off',
      shared_buffers: '16MB',
      max_connections: '40',
    });
    child = proc;
    proc.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-65536);
    });
    await waitUntilReady(proc, () => log, `postgres on port ${port}`);
  } catch (err) {
    if (child !== null) await stopPostgres(child, 'SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const running = child;
  return {
    port,
    version: bin.split('/').at(-2) ?? '',
    async stop() {
      await stopPostgres(running, 'SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
