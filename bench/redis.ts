// `npm run bench -- redis`: legate against nutcracker and a direct redis-server, side by side.
//
// Every target runs every test in every round, interleaved, with the target order rotated each
// round, because this machine is shared and noisy: slow drift then hits all targets alike, and
// the report gives medians and ratios rather than one-off numbers (DESIGN.md, "Measuring").
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, version as kernelVersion, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram } from '../engine/cli/redis-process.ts';
import { VERSION } from '../engine/version.ts';
import { type AdminStats, fetchAdminStats, findPercentiles } from './lib/admin.ts';
import {
  benchmarkKey,
  openIdleClients,
  rawCommand,
  readStatsPort,
  seedKeys,
} from './lib/clients.ts';
import {
  cpuSeconds,
  machineCpu,
  openFiles,
  openFilesLimit,
  rssKb,
  stealPercent,
} from './lib/proc-stats.ts';
import {
  freePort,
  programVersion,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startNutcracker,
  startRedisServer,
} from './lib/processes.ts';
import { runBenchmark } from './lib/redis-benchmark.ts';
import {
  type Footprint,
  type MemoryResult,
  PROXIES,
  type ProxyId,
  type RunRecord,
  type Target,
  type TargetId,
  TESTS,
} from './lib/redis-model.ts';
import {
  adminChart,
  goals,
  key,
  markdown,
  memoryChart,
  statsErrors,
  summarize,
  throughputCharts,
} from './lib/redis-report.ts';
import { fmt, fmtRps, median } from './lib/report.ts';
import {
  parseSettings,
  type Settings,
  SettingsError,
  type TestName,
  USAGE,
} from './lib/settings.ts';

const started = Date.now();

function progress(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${s}s] ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The pool text both proxies read: one nutcracker-dialect template, only `listen` differs. */
function poolConfig(listenPort: number, shardPorts: readonly number[]): string {
  return [
    'bench:',
    `  listen: 127.0.0.1:${listenPort}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  redis: true',
    '  servers:',
    ...shardPorts.map((p) => `    - 127.0.0.1:${p}:1`),
    '',
  ].join('\n');
}

function safeRss(pid: number): number | null {
  try {
    return rssKb(pid);
  } catch {
    return null;
  }
}

function safeCpu(pid: number): number | null {
  try {
    return cpuSeconds(pid);
  } catch {
    return null;
  }
}

/** Two significant digits: calibrated request counts read better that way. */
function roundRequests(n: number): number {
  const p = 10 ** Math.max(0, Math.floor(Math.log10(n)) - 1);
  return Math.round(n / p) * p;
}

interface Environment {
  readonly targets: Target[];
  readonly shards: RedisProcess[];
  /** Starts one more instance of a proxy, on fresh ports, with the same pool settings. */
  launch(id: ProxyId): Promise<{ target: Target; stop(): Promise<unknown> }>;
  stop(): Promise<void>;
}

async function startEnvironment(settings: Settings, dir: string): Promise<Environment> {
  const shards: RedisProcess[] = [];
  const procs: RunningProcess[] = [];
  let direct: RedisProcess | undefined;
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all([...shards, ...(direct ? [direct] : [])].map((r) => r.stop()));
  };
  let instances = 0;

  const launch = async (id: ProxyId): Promise<{ target: Target; proc: RunningProcess }> => {
    const port = await freePort();
    const statsPort = await freePort();
    const file = join(dir, `${id}-${++instances}.yml`);
    writeFileSync(
      file,
      poolConfig(
        port,
        shards.map((s) => s.port),
      ),
    );
    const fromProc = (p: RunningProcess) => ({
      pid: p.pid,
      alive: () => !p.exited(),
      exitStatus: p.exitStatus,
      output: p.output,
    });
    if (id === 'nutcracker') {
      const proc = await startNutcracker(file, port, statsPort);
      procs.push(proc);
      return { proc, target: { id, label: 'nutcracker', port, statsPort, ...fromProc(proc) } };
    }
    const workers = id === 'legate-auto' ? settings.workersAuto : 1;
    const admin = `127.0.0.1:${await freePort()}`;
    // Each legate gets its own admin and stats addresses: two instances on one machine would
    // otherwise both claim the defaults once those servers exist.
    const proc = await startLegate(file, workers, [
      '--admin',
      admin,
      '-s',
      String(statsPort),
      '-a',
      '127.0.0.1',
    ]);
    procs.push(proc);
    return {
      proc,
      target: { id, label: `legate -w ${workers}`, port, admin, statsPort, ...fromProc(proc) },
    };
  };

  try {
    progress('starting three redis-server shards and a direct redis-server');
    const servers = await Promise.all(Array.from({ length: 4 }, () => startRedisServer()));
    shards.push(...servers.slice(0, 3));
    direct = servers[3];
    const directProcess = direct;
    const targets: Target[] = [
      {
        id: 'direct',
        label: 'redis direct',
        port: direct.port,
        pid: direct.process.pid ?? 0,
        alive: () =>
          directProcess.process.exitCode === null && directProcess.process.signalCode === null,
        exitStatus: () =>
          directProcess.process.signalCode !== null
            ? `signal ${directProcess.process.signalCode}`
            : directProcess.process.exitCode !== null
              ? `exit code ${directProcess.process.exitCode}`
              : undefined,
        output: () => '',
      },
    ];
    progress(`starting nutcracker, legate -w ${settings.workersAuto} and legate -w 1`);
    for (const id of ['nutcracker', 'legate-auto', 'legate-1'] as const) {
      targets.push((await launch(id)).target);
    }
    return {
      targets,
      shards,
      stop,
      async launch(id) {
        const { target, proc } = await launch(id);
        return { target, stop: () => proc.stop() };
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The three shard processes' CPU seconds, summed. */
function shardCpu(shards: readonly RedisProcess[]): number | null {
  let total = 0;
  for (const s of shards) {
    const c = s.process.pid === undefined ? null : safeCpu(s.process.pid);
    if (c === null) return null;
    total += c;
  }
  return total;
}

/** redis-benchmark runs per target process, to tell expected stats counters from real errors. */
const invocations = new Map<number, number>();

async function runOne(
  settings: Settings,
  env: Environment,
  target: Target,
  test: TestName,
  pipeline: number,
  requests: number,
  round: number,
): Promise<RunRecord> {
  const base = { round, pipeline, test, target: target.id, requests };
  if (!target.alive()) {
    return {
      ...base,
      row: null,
      cpuSeconds: null,
      shardCpuSeconds: null,
      wallSeconds: 0,
      loadBefore: loadavg()[0],
      loadAfter: loadavg()[0],
      stealPercent: 0,
      problems: [`${target.label} is not running (${target.exitStatus() ?? 'status unknown'})`],
      notices: [],
    };
  }
  invocations.set(target.pid, (invocations.get(target.pid) ?? 0) + 1);
  const loadBefore = loadavg()[0];
  const machine0 = machineCpu();
  const cpu0 = safeCpu(target.pid);
  const shards0 = target.id === 'direct' ? null : shardCpu(env.shards);
  const run = await runBenchmark({
    port: target.port,
    command: TESTS[test].command,
    requests,
    pipeline,
    clients: settings.clients,
    keyspace: settings.keyspace,
    // Generous: a run is sized for a few seconds, and 10k requests/s is far below any target.
    timeoutMs: 60000 + requests / 10,
  });
  const cpu1 = safeCpu(target.pid);
  const shards1 = shards0 === null ? null : shardCpu(env.shards);
  const problems = [...run.problems];
  if (!target.alive())
    problems.push(
      `${target.label} exited during the run (${target.exitStatus() ?? 'status unknown'}); last output: ${target.output().trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`,
    );
  return {
    ...base,
    row: run.rows[0] ?? null,
    cpuSeconds: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null,
    shardCpuSeconds: shards0 !== null && shards1 !== null ? shards1 - shards0 : null,
    wallSeconds: run.wallSeconds,
    loadBefore,
    loadAfter: loadavg()[0],
    stealPercent: stealPercent(machine0, machineCpu()),
    problems,
    notices: [...run.notices],
  };
}

/**
 * Empties the shards and the direct redis and seeds every `key:N` redis-benchmark may read
 * (through nutcracker onto the shards, and direct), before every run: each run, whatever its
 * target and place in the order, starts from the same data (SET and INCR runs add keys, LPUSH
 * grows a list), and GET and MGET read real values.
 */
async function seed(
  settings: Settings,
  env: Environment,
  targets: readonly Target[],
  quiet = false,
): Promise<void> {
  if (!quiet)
    progress(
      `before each run: FLUSHALL and ${settings.keyspace} keys seeded on the shards (via nutcracker) and the direct redis`,
    );
  const byId = new Map(targets.map((t) => [t.id, t]));
  await Promise.all(
    [...env.shards.map((s) => s.port), byId.get('direct')!.port].map(async (port) => {
      const reply = await rawCommand(port, ['FLUSHALL'], 30000);
      if (reply !== '+OK\r\n')
        throw new Error(`FLUSHALL on port ${port} answered ${JSON.stringify(reply)}`);
    }),
  );
  // nutcracker is the reference placement; legate places keys identically (DESIGN.md), and
  // seeding through a third program keeps a legate bug from hiding in its own seed.
  await Promise.all([
    seedKeys(byId.get('nutcracker')!.port, settings.keyspace),
    seedKeys(byId.get('direct')!.port, settings.keyspace),
  ]);
  if (quiet) return;
  // Every target must find what nutcracker placed, or GET and MGET would measure misses.
  const probe = benchmarkKey('key:', Math.floor(settings.keyspace / 2));
  for (const t of targets) {
    const reply = await rawCommand(t.port, ['GET', probe]);
    if (reply !== '$3\r\nxxx\r\n')
      throw new Error(
        `${t.label} answers GET ${probe} with ${JSON.stringify(reply)}, not the seeded value`,
      );
  }
}

/** One unrecorded run per target, test and pipeline. */
async function warmUp(settings: Settings, env: Environment): Promise<void> {
  progress('warming up: one unrecorded run per target, test and pipeline');
  for (const pipeline of settings.pipelines) {
    for (const test of settings.tests) {
      for (const target of env.targets) {
        await seed(settings, env, env.targets, true);
        const r = await runOne(
          settings,
          env,
          target,
          test,
          pipeline,
          pipeline > 1 ? 150000 : 30000,
          0,
        );
        if (r.problems.length > 0)
          progress(
            `warm-up ${TESTS[test].label} -P ${pipeline} ${target.label}: ${r.problems.join('; ')}`,
          );
      }
    }
  }
}

/** Per target, test and pipeline: the -n that makes a run last about settings.runSeconds. */
async function calibrate(settings: Settings, env: Environment): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const pipeline of settings.pipelines) {
    for (const test of settings.tests) {
      for (const target of env.targets) {
        const probe = pipeline > 1 ? 150000 : 30000;
        await seed(settings, env, env.targets, true);
        const r = await runOne(settings, env, target, test, pipeline, probe, 0);
        const rps = r.row?.rps ?? 0;
        const n = rps > 0 ? roundRequests(rps * settings.runSeconds) : probe;
        sizes.set(key(target.id, test, pipeline), Math.min(20_000_000, Math.max(10000, n)));
      }
      progress(
        `calibrated ${TESTS[test].label} -P ${pipeline}: ${env.targets
          .map((t) => `${t.label} -n ${sizes.get(key(t.id, test, pipeline))}`)
          .join(', ')}`,
      );
    }
  }
  return sizes;
}

async function throughput(
  settings: Settings,
  env: Environment,
): Promise<{ runs: RunRecord[]; sizes: Map<string, number> }> {
  await seed(settings, env, env.targets);
  // Calibrating warms every target up; given run lengths need a warm-up of their own, or the
  // first runs would time V8 compiling legate's hot path and the first shard connections.
  if (settings.requests !== undefined && !settings.quick) await warmUp(settings, env);
  const sizes =
    settings.requests === undefined ? await calibrate(settings, env) : new Map<string, number>();
  // undefined: the calibrated length of each target.
  const lengths: readonly (number | undefined)[] = settings.requests ?? [undefined];
  const runs: RunRecord[] = [];
  const total =
    settings.rounds *
    settings.pipelines.length *
    settings.tests.length *
    lengths.length *
    env.targets.length;
  for (let round = 1; round <= settings.rounds; round++) {
    const shift = (round - 1) % env.targets.length;
    const order = [...env.targets.slice(shift), ...env.targets.slice(0, shift)];
    progress(`round ${round}/${settings.rounds}: order ${order.map((t) => t.label).join(', ')}`);
    for (const pipeline of settings.pipelines) {
      for (const test of settings.tests) {
        for (const length of lengths) {
          for (const target of order) {
            const n = length ?? sizes.get(key(target.id, test, pipeline)) ?? 100000;
            await seed(settings, env, env.targets, true);
            const r = await runOne(settings, env, target, test, pipeline, n, round);
            runs.push(r);
            const what = `${runs.length}/${total} ${TESTS[test].label} -P ${pipeline} -n ${n} ${target.label}`;
            if (r.problems.length > 0) progress(`${what}: PROBLEM ${r.problems.join('; ')}`);
            else
              progress(
                `${what}: ${fmtRps(r.row?.rps ?? null)} rps in ${fmt(r.wallSeconds, 1)} s, p99 ${fmt(r.row?.p99Ms ?? null, 3)} ms, cpu ${fmt(r.cpuSeconds)} s, load ${fmt(r.loadBefore)}→${fmt(r.loadAfter)}, steal ${fmt(r.stealPercent, 1)}%`,
              );
          }
        }
      }
    }
  }
  return { runs, sizes };
}

/** Opens idle clients to one proxy and reads its resident memory before, with a quarter, with all, after. */
async function memoryOf(
  settings: Settings,
  target: Target,
): Promise<Omit<MemoryResult, 'logProblems'>> {
  const settle = settings.quick ? 300 : 2000;
  // The bench holds every client socket itself, so its own limit counts as much as the
  // proxy's; keep a margin for each side's other descriptors (shards, listeners, stdio).
  const ownRoom = openFilesLimit('self') - openFiles('self') - 200;
  const proxyRoom = openFilesLimit(target.pid) - openFiles(target.pid) - 200;
  const attempted = Math.max(0, Math.min(settings.idleClients, ownRoom, proxyRoom));
  let limitNote: string | null = null;
  if (attempted < settings.idleClients) {
    limitNote = `lowered from ${settings.idleClients} to ${attempted}: descriptor room is ${ownRoom} in the bench, ${proxyRoom} in ${target.label} (ulimit -n)`;
    progress(`memory ${target.label}: ${limitNote}`);
  }
  await sleep(settle);
  const rssBeforeKb = rssKb(target.pid);
  const t0 = Date.now();
  // A quarter first, then the rest: the growth between the two is the marginal cost of a
  // client, which free room left in the heap by the warm-up cannot hide.
  const firstCount = Math.floor(attempted / 4);
  const first = await openIdleClients(target.port, firstCount);
  await sleep(settle);
  const rssQuarterKb = rssKb(target.pid);
  const rest = await openIdleClients(target.port, attempted - firstCount);
  const openSeconds = (Date.now() - t0) / 1000 - settle / 1000;
  await sleep(settle);
  const rssWithClientsKb = rssKb(target.pid);
  await Promise.all([first.close(), rest.close()]);
  await sleep(settle);
  const rssAfterCloseKb = rssKb(target.pid);
  const opened = first.opened + rest.opened;
  const failures = [...first.failures, ...rest.failures];
  const growth = opened > 0 ? (rssWithClientsKb - rssBeforeKb) / opened : null;
  const marginal = rest.opened > 0 ? (rssWithClientsKb - rssQuarterKb) / rest.opened : null;
  progress(
    `memory ${target.label}: ${opened} idle clients, RSS ${rssBeforeKb} → ${rssQuarterKb} → ${rssWithClientsKb} KB (${fmt(growth)} KB/client, ${fmt(marginal)} at the margin), ${rssAfterCloseKb} KB after close`,
  );
  if (failures.length > 0)
    progress(`memory ${target.label}: ${failures.length} failures: ${failures[0]}`);
  return {
    target: target.id,
    label: target.label,
    requested: settings.idleClients,
    attempted,
    opened,
    limitNote,
    rssBeforeKb,
    rssQuarterKb,
    rssWithClientsKb,
    rssAfterCloseKb,
    growthKbPerClient: growth,
    marginalKbPerClient: marginal,
    openSeconds,
    failures,
  };
}

/**
 * The memory section, each proxy in turn on a fresh instance: after the throughput section a
 * proxy's heap and buffer pools have grown and have free room that would absorb the clients'
 * memory unseen, so growth is measured where it shows. A short run first warms the instance
 * up (compiled code, per-shard buffers), so "before" is a proxy that has served traffic.
 */
async function memory(settings: Settings, env: Environment): Promise<MemoryResult[]> {
  const results: MemoryResult[] = [];
  for (const id of PROXIES) {
    progress(`memory: starting a fresh ${id}`);
    const fresh = await env.launch(id);
    try {
      const warm = await runOne(
        settings,
        env,
        fresh.target,
        'set',
        1,
        settings.quick ? 2000 : 50000,
        0,
      );
      if (warm.problems.length > 0)
        progress(`memory ${fresh.target.label}: warm-up: ${warm.problems.join('; ')}`);
      const m = await memoryOf(settings, fresh.target);
      results.push({ ...m, logProblems: logProblems(fresh.target) });
    } finally {
      await fresh.stop();
    }
  }
  return results;
}

/** warn-and-worse lines from a legate log (pino JSON) or anything alarming from nutcracker's. */
function logProblems(target: Target): string[] {
  const lines = target
    .output()
    .split('\n')
    .filter((l) => l.trim() !== '');
  if (target.id.startsWith('legate')) {
    return lines.filter((l) => {
      try {
        const level = (JSON.parse(l) as { level?: number }).level;
        return typeof level === 'number' && level >= 40;
      } catch {
        return true; // not pino output: a stack trace or a Node warning, worth seeing
      }
    });
  }
  return lines.filter((l) => /error|fail|refused|reset|timed ?out|eject/i.test(l));
}

export async function main(argv: readonly string[]): Promise<number> {
  let settings: Settings | undefined;
  try {
    settings = parseSettings(argv);
  } catch (err) {
    if (err instanceof SettingsError) {
      process.stderr.write(`bench redis: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (!settings) {
    process.stdout.write(USAGE);
    return 0;
  }
  requireProgram('redis-server', 'redis-server');
  requireProgram('redis-benchmark', 'redis-tools');
  requireProgram('nutcracker', 'nutcracker');

  const dir = mkdtempSync(join(tmpdir(), 'legate-bench-'));
  let env: Environment | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping everything`);
    const done = () => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    };
    (env ? env.stop() : Promise.resolve()).then(done, done);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    env = await startEnvironment(settings, dir);
    const labels = new Map(env.targets.map((t) => [t.id, t.label]));
    const meta = {
      date: new Date().toISOString(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      kernel: `${release()} (${kernelVersion()})`,
      loadBefore: loadavg()
        .map((l) => l.toFixed(2))
        .join(' '),
      node: process.version,
      redisServer: programVersion('redis-server'),
      redisBenchmark: programVersion('redis-benchmark'),
      nutcracker: programVersion('nutcracker'),
      legate: VERSION,
    };

    let runs: RunRecord[] = [];
    let sizes = new Map<string, number>();
    const rssAtStart = new Map(env.targets.map((t) => [t.id, safeRss(t.pid)]));
    if (!settings.memoryOnly) ({ runs, sizes } = await throughput(settings, env));
    const footprint: Footprint[] = settings.memoryOnly
      ? []
      : env.targets.map((t) => ({
          target: t.id,
          label: t.label,
          rssAtStartKb: rssAtStart.get(t.id) ?? null,
          rssAfterThroughputKb: safeRss(t.pid),
        }));
    const summary = settings.memoryOnly ? [] : summarize(settings, runs);
    const loadAfterRuns = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    const steals = runs.map((r) => r.stealPercent);
    const steal =
      steals.length === 0
        ? 'no runs'
        : `median ${fmt(median(steals), 1)}%, max ${fmt(Math.max(...steals), 1)}%`;
    const mem = settings.skipMemory ? [] : await memory(settings, env);

    const admin: Record<string, AdminStats> = {};
    const stats: Record<string, unknown> = {};
    for (const t of env.targets) {
      if (t.admin) admin[t.id] = await fetchAdminStats(t.admin);
      if (t.statsPort !== undefined) stats[t.id] = await readStatsPort(t.statsPort);
    }

    const problems: string[] = [];
    const notes: string[] = [];
    // The same problem in many runs (a proxy that died early) is one line, with its count.
    const byProblem = new Map<string, string[]>();
    for (const r of runs) {
      for (const p of r.problems) {
        const k = `${labels.get(r.target)}: ${p}`;
        byProblem.set(k, [
          ...(byProblem.get(k) ?? []),
          `${TESTS[r.test].label} -P ${r.pipeline} round ${r.round}`,
        ]);
      }
    }
    for (const [p, where] of byProblem)
      problems.push(
        where.length === 1
          ? `${p} (${where[0]})`
          : `${p} (${where.length} runs, first ${where[0]})`,
      );
    for (const m of mem) {
      if (m.limitNote) notes.push(`${m.label}: ${m.limitNote}`);
      if (m.logProblems.length > 0)
        problems.push(
          `fresh ${m.label} (memory section) logged ${m.logProblems.length} warning/error line(s); first: ${m.logProblems[0].slice(0, 300)}`,
        );
      if (m.failures.length > 0)
        problems.push(
          `${m.label} idle clients: ${m.failures.length} failed, first: ${m.failures[0]}`,
        );
    }
    for (const t of env.targets) {
      if (!t.alive())
        problems.push(
          `${t.label} is no longer running at the end (${t.exitStatus() ?? 'status unknown'}); its log is in ${settings.out}/redis-${t.id}.log`,
        );
      const lines = logProblems(t);
      if (lines.length > 0)
        problems.push(
          `${t.label} logged ${lines.length} warning/error line(s); first: ${lines[0].slice(0, 300)}`,
        );
      const errs = statsErrors(stats[t.id]);
      // redis-benchmark starts with CONFIG GET, which nutcracker answers by closing that one
      // connection and counting a client_err: up to one per run is the bench's own doing.
      const runsAgainst = invocations.get(t.pid) ?? 0;
      const clientErr = Object.entries(errs).filter(([k]) => k.endsWith('.client_err'));
      if (t.id === 'nutcracker' && clientErr.length === 1 && clientErr[0][1] <= runsAgainst) {
        notes.push(
          `${t.label} counted ${clientErr[0][1]} client_err in ${runsAgainst} redis-benchmark runs: one per run is redis-benchmark's CONFIG GET, which nutcracker refuses by closing that connection (its stats lag up to 30 s)`,
        );
        delete errs[clientErr[0][0]];
      }
      if (Object.keys(errs).length > 0)
        problems.push(`${t.label} stats count errors: ${JSON.stringify(errs)}`);
    }
    const noticed = [
      ...new Set(runs.flatMap((r) => r.notices.map((n) => `${labels.get(r.target)}: ${n}`))),
    ];
    notes.push(...noticed);
    const goalList = goals(summary, mem);

    mkdirSync(settings.out, { recursive: true });
    const charts = [
      ...(settings.memoryOnly ? [] : throughputCharts(settings, summary, labels)),
      ...(mem.length > 0 ? [memoryChart(mem)] : []),
    ];
    for (const [id, a] of Object.entries(admin)) {
      if (!a.present) continue;
      const unit = (a.body as { latency_unit?: unknown }).latency_unit;
      const pools = findPercentiles(a.body).filter(
        (x) => !x.path.includes('.servers.') && x.count !== 0,
      );
      for (const f of pools) {
        const values = [...f.values].map(([k, v]) => `${k} ${v}`).join(', ');
        notes.push(
          `${labels.get(id as TargetId)} admin /stats${f.owner ? `, pool ${f.owner}` : ''} (cumulative, ${typeof unit === 'string' ? unit : 'unit unknown'}): ${values}${f.count === undefined ? '' : `; count ${f.count}`}`,
        );
      }
    }
    const hdr = adminChart(admin, labels);
    if (typeof hdr === 'string') notes.push(hdr);
    else charts.push(hdr);
    for (const c of charts) writeFileSync(join(settings.out, c.file), c.svg);
    // The proxies' own logs, for whoever has to find out why a number or a crash happened.
    for (const t of env.targets) {
      if (t.output() !== '') writeFileSync(join(settings.out, `redis-${t.id}.log`), t.output());
    }
    const jsonFile = join(settings.out, 'redis.json');
    const seconds = (Date.now() - started) / 1000;
    writeFileSync(
      jsonFile,
      `${JSON.stringify(
        {
          meta: { ...meta, loadAfter: loadAfterRuns, steal, seconds },
          settings,
          targets: env.targets.map((t) => ({ id: t.id, label: t.label, port: t.port, pid: t.pid })),
          requests: Object.fromEntries(sizes),
          summary,
          goals: goalList,
          memory: mem,
          footprint,
          runs,
          admin,
          stats,
          problems,
          notes,
          charts: charts.map((c) => c.file),
        },
        null,
        2,
      )}\n`,
    );
    process.stdout.write(
      markdown(
        settings,
        { ...meta, loadAfter: loadAfterRuns, steal },
        summary,
        mem,
        footprint,
        goalList,
        labels,
        sizes,
        problems,
        notes,
      ),
    );
    process.stdout.write(
      `\nResults: ${jsonFile}, ${charts.map((c) => c.file).join(', ')} (in ${settings.out}); ${seconds.toFixed(0)} s.\n`,
    );
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress('stopping servers');
    await env?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
