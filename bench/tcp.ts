// `npm run bench -- tcp`: the service broker against HAProxy and a direct connection.
//
// legate and HAProxy run the very same haproxy.cfg (only the ports, given as "${VARS}",
// differ). Every round runs every test on every target, the order rotated each round; the
// report gives medians and ratios (DESIGN.md, "Measuring"):
//   pgbench -S -c 20 -j 2 (tps), redis-benchmark -P 16 GET (rps), connection setup rate
//   (redis-benchmark -k 0 PING: a new connection per request), and resident memory per idle
//   proxied session (a client socket and a server socket each).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The demo's throwaway PostgreSQL (initdb and postgres as the postgres user, trust on loopback).
import {
  findPostgresBin,
  type LocalPostgres,
  startLocalPostgres,
} from '../engine/cli/demo/postgres.ts';
import { VERSION } from '../engine/version.ts';
import { openIdleClients } from './lib/clients.ts';
import { rssKb } from './lib/proc-stats.ts';
import {
  freePort,
  programVersion,
  type RedisProcess,
  run,
  startHaproxy,
  startLegate,
  startRedisServer,
} from './lib/processes.ts';
import { fmt, fmtRatio, fmtRps, markdownTable, median, ratio } from './lib/report.ts';

const USAGE = `usage: npm run bench -- tcp [--rounds N] [--seconds S] [--idle N] [--workers N] [--quick]

  --rounds N    interleaved rounds (default 3)
  --seconds S   length of each pgbench run (default 10)
  --idle N      idle sessions for the memory test (default 2000)
  --workers N   legate's worker threads (default 2; HAProxy uses its default nbthread)
  --quick       1 round, 2 s, 200 idle sessions: checks that the bench runs, measures nothing
`;

interface Settings {
  rounds: number;
  seconds: number;
  idle: number;
  workers: number;
}

function parse(args: readonly string[]): Settings | string {
  const s: Settings = { rounds: 3, seconds: 10, idle: 2000, workers: 2 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--quick') Object.assign(s, { rounds: 1, seconds: 2, idle: 200 });
    else if (['--rounds', '--seconds', '--idle', '--workers'].includes(a)) {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 1) return `${a} needs a positive integer`;
      s[a.slice(2) as keyof Settings] = n;
    } else return `unknown option '${a}'`;
  }
  return s;
}

const started = Date.now();
function progress(message: string): void {
  process.stderr.write(
    `[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}\n`,
  );
}

/** The one config both proxies read. */
const HAPROXY_CFG = `global
    maxconn 8000
defaults
    mode tcp
    timeout connect 5s
    timeout client 10m
    timeout server 10m
listen pg
    bind "127.0.0.1:\${PG_LISTEN}"
    server pg "127.0.0.1:\${PG_PORT}"
listen redis
    bind "127.0.0.1:\${REDIS_LISTEN}"
    server redis "127.0.0.1:\${REDIS_PORT}"
`;

type TargetId = 'direct' | 'haproxy' | 'legate';
interface Target {
  readonly id: TargetId;
  readonly pg: number;
  readonly redis: number;
  /** The proxy's process (for its memory); null for direct. */
  readonly pid: number | null;
}

/** A program to completion: its exit code and everything it printed. */
async function runProgram(
  command: string,
  args: readonly string[],
): Promise<{ code: number | null; out: string }> {
  const r = await run(command, args, { timeoutMs: 600000 });
  return { code: r.code, out: r.stdout.toString() + r.stderr };
}

/** The settings, and where the PostgreSQL the bench starts keeps its programs (pgbench). */
interface Setup extends Settings {
  readonly pgBin: string;
}

async function pgbenchTps(t: Target, s: Setup): Promise<number | null> {
  const r = await runProgram(join(s.pgBin, 'pgbench'), [
    '-S',
    '-c',
    '20',
    '-j',
    '2',
    '-T',
    String(s.seconds),
    '-h',
    '127.0.0.1',
    '-p',
    String(t.pg),
    '-U',
    'postgres',
    'postgres',
  ]);
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.out);
  if (r.code !== 0 || m === null) {
    progress(`pgbench through ${t.id} failed: ${r.out.slice(-400)}`);
    return null;
  }
  return Number(m[1]);
}

async function redisRps(t: Target, args: readonly string[], test: string): Promise<number | null> {
  const r = await runProgram('redis-benchmark', ['-p', String(t.redis), '-q', ...args]);
  const m = new RegExp(`${test}: ([\\d.]+) requests per second`).exec(r.out);
  if (r.code !== 0 || m === null) {
    progress(`redis-benchmark ${args.join(' ')} through ${t.id} failed: ${r.out.slice(-400)}`);
    return null;
  }
  return Number(m[1]);
}

/** KB of proxy RSS per idle session (client + server socket), over `count` sessions. */
async function idleKb(t: Target, s: Setup): Promise<number | null> {
  if (t.pid === null) return null;
  const before = rssKb(t.pid);
  const idle = await openIdleClients(t.redis, s.idle);
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssKb(t.pid);
  await idle.close();
  if (idle.opened < s.idle) {
    progress(
      `${t.id}: only ${idle.opened} of ${s.idle} idle sessions opened (${idle.failures[0]})`,
    );
    return null;
  }
  return (after - before) / idle.opened;
}

const TESTS = {
  'pgbench -S -c 20 -j 2 (tps)': pgbenchTps,
  'redis-benchmark -P 16 GET (rps)': (t: Target) =>
    redisRps(t, ['-P', '16', '-c', '50', '-n', '400000', '-t', 'get'], 'GET'),
  'connection setup (new connection per PING, /s)': (t: Target) =>
    redisRps(t, ['-k', '0', '-c', '20', '-n', '20000', '-t', 'ping'], 'PING_INLINE'),
  'RSS per idle session (KB)': idleKb,
} as const;
type TestName = keyof typeof TESTS;

export async function main(args: readonly string[]): Promise<number> {
  const settings = parse(args);
  if (typeof settings === 'string') {
    process.stderr.write(`${settings}\n${USAGE}`);
    return 2;
  }
  if (args.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const pgBin = findPostgresBin();
  if (pgBin === null) {
    process.stderr.write(
      'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres); install postgresql\n',
    );
    return 1;
  }
  const setup: Setup = { ...settings, pgBin };
  const dir = mkdtempSync(join(tmpdir(), 'legate-bench-tcp-'));
  let pg: LocalPostgres | null = null;
  let redis: RedisProcess | null = null;
  const procs: { stop(): Promise<unknown> }[] = [];
  try {
    progress(`starting PostgreSQL (${pgBin}) and redis-server`);
    [pg, redis] = await Promise.all([
      freePort().then((port) => startLocalPostgres(pgBin, port)),
      startRedisServer(),
    ]);
    const init = await runProgram(join(pgBin, 'pgbench'), [
      '-i',
      '-s',
      '10',
      '-q',
      '-h',
      '127.0.0.1',
      '-p',
      String(pg.port),
      '-U',
      'postgres',
      'postgres',
    ]);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.out}`);
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, HAPROXY_CFG);
    const ports = async () => ({
      PG_LISTEN: String(await freePort()),
      REDIS_LISTEN: String(await freePort()),
      PG_PORT: String(pg?.port),
      REDIS_PORT: String(redis?.port),
    });
    const hEnv = await ports();
    const lEnv = await ports();
    progress('starting HAProxy and legate on the same haproxy.cfg');
    const haproxy = await startHaproxy(cfg, Number(hEnv.REDIS_LISTEN), hEnv);
    procs.push(haproxy);
    const legate = await startLegate(
      cfg,
      settings.workers,
      ['--admin', '127.0.0.1:0', '-s', '0'],
      20000,
      lEnv,
    );
    procs.push(legate);
    const targets: Target[] = [
      { id: 'direct', pg: pg.port, redis: redis.port, pid: null },
      {
        id: 'haproxy',
        pg: Number(hEnv.PG_LISTEN),
        redis: Number(hEnv.REDIS_LISTEN),
        pid: haproxy.child.pid ?? null,
      },
      {
        id: 'legate',
        pg: Number(lEnv.PG_LISTEN),
        redis: Number(lEnv.REDIS_LISTEN),
        pid: legate.pid,
      },
    ];
    const results = new Map<string, (number | null)[]>();
    for (let round = 0; round < settings.rounds; round++) {
      for (const name of Object.keys(TESTS) as TestName[]) {
        const order = targets.map((_, i) => targets[(i + round) % targets.length]);
        for (const t of order) {
          progress(`round ${round + 1}/${settings.rounds}: ${name} through ${t.id}`);
          const value = await TESTS[name](t, setup);
          const k = `${name}|${t.id}`;
          results.set(k, [...(results.get(k) ?? []), value]);
        }
      }
    }
    const med = (name: string, id: TargetId) => median(results.get(`${name}|${id}`) ?? []);
    const rows = (Object.keys(TESTS) as TestName[]).map((name) => {
      const memory = name.startsWith('RSS');
      const show = (v: number | null) => (memory ? fmt(v, 2) : fmtRps(v));
      const l = med(name, 'legate');
      const h = med(name, 'haproxy');
      return [name, show(med(name, 'direct')), show(h), show(l), fmtRatio(ratio(l, h))];
    });
    const table = markdownTable(
      ['test (median of rounds)', 'direct', 'HAProxy', 'legate', 'legate / HAProxy'],
      rows,
      [false, true, true, true, true],
    );
    process.stdout.write(
      `legate ${VERSION} (${settings.workers} workers) vs ${programVersion('haproxy', '-v')}, ` +
        `${settings.rounds} rounds, pgbench ${settings.seconds} s, ${settings.idle} idle sessions\n\n${table}\n\n` +
        'Reproduce: npm run bench -- tcp\n',
    );
    return 0;
  } finally {
    for (const p of procs) await p.stop();
    await Promise.all([pg?.stop(), redis?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
