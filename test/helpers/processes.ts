// Starting the real programs the tests run against: redis-server shards, legate, nutcracker.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LEGATE_BIN,
  NODE,
  type RunningProcess as ProgramProcess,
  run,
  track as trackProgram,
} from '../../bench/lib/processes.ts';
import {
  freePort,
  type RedisProcess,
  startRedisServer,
  waitForPort,
} from '../../engine/cli/redis-process.ts';

// HAProxy, programs run to completion, and where legate is: the bench's own, which the tests share.
export { startHaproxy } from '../../bench/lib/processes.ts';
export { freePort, LEGATE_BIN, NODE, type RedisProcess, run, startRedisServer };

/** Starts `count` redis-server shards on free loopback ports. */
export async function startShards(count: number): Promise<RedisProcess[]> {
  return Promise.all(Array.from({ length: count }, () => startRedisServer()));
}

export async function stopAll(processes: readonly { stop(): Promise<void> }[]): Promise<void> {
  await Promise.all(processes.map((p) => p.stop()));
}

/** A config file in a fresh temporary directory (removed by the returned cleanup). */
export function writeConfig(text: string, name = 'legate.yml'): { file: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'legate-test-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** nutcracker-dialect text for one pool over the given shard ports. */
export function poolYaml(options: {
  name?: string;
  port: number;
  shards: readonly number[];
  extra?: Record<string, string | number | boolean>;
}): string {
  const lines = [
    `${options.name ?? 'redis'}:`,
    `  listen: 127.0.0.1:${options.port}`,
    '  redis: true',
  ];
  for (const [k, v] of Object.entries(options.extra ?? {})) lines.push(`  ${k}: ${v}`);
  lines.push('  servers:', ...options.shards.map((p) => `    - 127.0.0.1:${p}:1`), '');
  return lines.join('\n');
}

/** A started program (the bench's), and for legate the admin and stats ports it bound (read from its log). */
export interface RunningProcess extends ProgramProcess {
  adminPort?: number;
  statsPort?: number;
}

export function track(child: ChildProcess): RunningProcess {
  return trackProgram(child);
}

/** Waits until `pattern` shows in the output of `proc` (named `what` in errors). */
export async function waitFor(
  proc: RunningProcess,
  pattern: RegExp,
  what: string,
  timeoutMs = 15000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(proc.output())) {
    if (proc.child.exitCode !== null)
      throw new Error(`${what} exited (${proc.child.exitCode}):\n${proc.output()}`);
    if (Date.now() > deadline)
      throw new Error(`${what} did not start in ${timeoutMs} ms:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs `legate` with args (e.g. `-c FILE -w 2`) and waits until every pool listens. Unless the
 * args choose them, the admin endpoint and the stats port bind free ports (read back from the
 * log into `adminPort` and `statsPort`), so tests never collide on 9909 or 22222.
 */
export async function startLegate(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningProcess> {
  const given = (pattern: RegExp) => args.some((a) => pattern.test(a));
  const extra = [
    ...(given(/^--admin(=|$)/) ? [] : ['--admin', '127.0.0.1:0']),
    ...(given(/^(-s|--stats-port(=|$))/) ? [] : ['-s', '0']),
  ];
  const child = spawn(NODE, [LEGATE_BIN, ...args, ...extra], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child);
  await waitFor(proc, /"msg":"legate [^"]* started on pid/, 'legate');
  const admin = /"msg":"admin listening on [^"]*:(\d+) /.exec(proc.output());
  const stats = /"msg":"stats listening on [^"]*:(\d+)"/.exec(proc.output());
  if (admin) proc.adminPort = Number(admin[1]);
  if (stats) proc.statsPort = Number(stats[1]);
  return proc;
}

/**
 * Runs Debian's nutcracker on a config file and waits until it accepts connections; its stats
 * port is a free one, in `statsPort`. `extra` adds flags (e.g. `-i 100` for fresher stats).
 */
export async function startNutcracker(
  configFile: string,
  listenPort: number,
  extra: readonly string[] = [],
): Promise<RunningProcess> {
  const statsPort = await freePort();
  const child = spawn(
    'nutcracker',
    ['-c', configFile, '-s', String(statsPort), '-a', '127.0.0.1', '-v', '4', ...extra],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const proc = track(child);
  proc.statsPort = statsPort;
  try {
    await waitForPort(listenPort, child, 10000, 'nutcracker');
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${proc.output()}`);
  }
  return proc;
}

/** Runs the legate CLI to completion. */
export function runLegate(args: readonly string[], options: Parameters<typeof run>[2] = {}) {
  return run(NODE, [LEGATE_BIN, ...args], options);
}

/** Shards, a one-pool config over them and legate on a free port: the setup most tests share. */
export interface Cluster {
  readonly shards: RedisProcess[];
  readonly port: number;
  readonly config: { file: string; cleanup(): void };
  readonly legate: RunningProcess;
  /** Stops legate and the shards and removes the config. */
  stop(): Promise<void>;
}

export async function startCluster(
  options: {
    shards?: number;
    workers?: number;
    /** The pool's name (poolYaml's default otherwise). */
    name?: string;
    extra?: Record<string, string | number | boolean>;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<Cluster> {
  const shards = await startShards(options.shards ?? 3);
  const port = await freePort();
  const config = writeConfig(
    poolYaml({
      name: options.name,
      port,
      shards: shards.map((s) => s.port),
      extra: options.extra,
    }),
  );
  const legate = await startLegate(
    ['-c', config.file, '-w', String(options.workers ?? 2)],
    options.env,
  );
  return {
    shards,
    port,
    config,
    legate,
    async stop() {
      await legate.stop();
      await stopAll(shards);
      config.cleanup();
    },
  };
}
