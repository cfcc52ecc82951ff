// The programs a benchmark compares: legate, nutcracker and HAProxy, started on loopback and
// stopped again, and programs run to completion. redis-server comes from
// engine/cli/redis-process.ts. The bench never imports test/; the tests share HAProxy and run().
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { acceptsConnections, waitForPort } from '../../engine/cli/redis-process.ts';

export { freePort, type RedisProcess, startRedisServer } from '../../engine/cli/redis-process.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
/** The Node running the bench is the project's pinned Node 24, which legate needs. */
export const NODE = process.execPath;
export const LEGATE_BIN = join(ROOT, 'bin/legate.js');

export interface RunningProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Whether it has exited (or been killed) already. */
  exited(): boolean;
  /** How it ended ("exit code 1", "signal SIGSEGV"), or undefined while it runs. */
  exitStatus(): string | undefined;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

// Output is kept whole for the log scan at the end, but capped: a proxy logging an error per
// request would otherwise grow the bench's own memory without bound.
const MAX_OUTPUT = 4 * 1024 * 1024;

export function track(child: ChildProcess): RunningProcess {
  let out = '';
  const add = (d: Buffer) => {
    if (out.length < MAX_OUTPUT) out += d.toString();
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const done = () => child.exitCode !== null || child.signalCode !== null;
  if (child.pid === undefined) throw new Error(`could not spawn ${child.spawnfile}`);
  return {
    child,
    pid: child.pid,
    output: () => out,
    exited: done,
    exitStatus: () =>
      child.signalCode !== null
        ? `signal ${child.signalCode}`
        : child.exitCode !== null
          ? `exit code ${child.exitCode}`
          : undefined,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!done()) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `legate -c FILE -w N [extra]` and waits for its "started" log line. */
export async function startLegate(
  configFile: string,
  workers: number,
  extra: readonly string[] = [],
  timeoutMs = 20000,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningProcess> {
  const child = spawn(NODE, [LEGATE_BIN, '-c', configFile, '-w', String(workers), ...extra], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child);
  const deadline = Date.now() + timeoutMs;
  while (!/"msg":"legate [^"]* started on pid/.test(proc.output())) {
    if (proc.exited()) throw new Error(`legate exited (${child.exitCode}):\n${proc.output()}`);
    if (Date.now() > deadline) {
      await proc.stop('SIGKILL');
      throw new Error(`legate did not start in ${timeoutMs} ms:\n${proc.output()}`);
    }
    await sleep(20);
  }
  return proc;
}

/** Runs Debian's nutcracker on a config file and waits until its pool accepts connections. */
export async function startNutcracker(
  configFile: string,
  listenPort: number,
  statsPort: number,
  timeoutMs = 10000,
): Promise<RunningProcess> {
  const child = spawn(
    'nutcracker',
    ['-c', configFile, '-s', String(statsPort), '-a', '127.0.0.1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const proc = track(child);
  const deadline = Date.now() + timeoutMs;
  while (!(await acceptsConnections(listenPort))) {
    if (proc.exited()) throw new Error(`nutcracker exited (${child.exitCode}):\n${proc.output()}`);
    if (Date.now() > deadline) {
      await proc.stop('SIGKILL');
      throw new Error(`nutcracker did not start in ${timeoutMs} ms:\n${proc.output()}`);
    }
    await sleep(20);
  }
  return proc;
}

/** The first line a program prints for `--version` (or `-V`), for the results' record. */
export function programVersion(program: string, flag = '--version'): string {
  const r = spawnSync(program, [flag], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return 'not installed';
  return `${r.stdout}${r.stderr}`.split('\n')[0].trim();
}

/**
 * Runs Debian's HAProxy in the foreground (`-db`) on a config file, with `env` added to the
 * environment the file's "${VARS}" read, and waits until it accepts on `listenPort`.
 */
export async function startHaproxy(
  configFile: string,
  listenPort: number,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningProcess> {
  const child = spawn('haproxy', ['-f', configFile, '-db'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child);
  try {
    await waitForPort(listenPort, child, 10000, 'haproxy');
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${proc.output()}`);
  }
  return proc;
}

/** Runs a command to completion, capturing its output. */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    // A program that exits without reading its input (tmux) must not fail the caller with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
