import { rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { type AdminSource, adminHandler } from '../admin/admin-server.ts';
import { chooseHttpEngine } from '../admin/choose-engine.ts';
import type { HttpEngine } from '../admin/http-engine.ts';
import { startStatsPort } from '../admin/stats-port.ts';
import type { RunOptions } from '../cli/main.ts';
import { formatAddress } from '../config/address.ts';
import { ConfigError, formatIssue } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';
import type { Address, LegateConfig } from '../config/types.ts';
import { UnknownNameError } from '../errors.ts';
import { resumeJit } from '../jit.ts';
import { createLogger, type Logger } from '../log.ts';
import { serverBlockName } from '../metrics/http-snapshot.ts';
import {
  type HttpStatsJson,
  type HttpTotals,
  httpStatsJson,
  renderHttpPrometheus,
} from '../metrics/http-stats.ts';
import { renderPrometheus } from '../metrics/prometheus.ts';
import { MetricsStore } from '../metrics/store.ts';
import { renderTcpPrometheus, tcpStatsJson } from '../metrics/tcp-stats.ts';
import { releaseIdleMemory } from '../release-memory.ts';
import { HttpRole } from '../roles/http.ts';
import type { TcpRole } from '../roles/tcp.ts';
import { LIVE } from '../shared/health-memory.ts';
import { VERSION } from '../version.ts';
import { type CpuBudget, cpuBudget } from './cpu-budget.ts';
import { PoolState } from './pool-state.ts';
import type { Generation, HttpShared, TcpShared, WorkerMessage } from './protocol.ts';
import { type ReloadAnswer, WorkerSet } from './workers.ts';

/**
 * The number of data-plane threads and why: -w, then LEGATE_WORKERS or the config's `workers`,
 * else (`auto`) the CPUs this process may use: its cgroup's quota and cpuset, its affinity.
 */
export function workerCount(config: LegateConfig, options: RunOptions): CpuBudget {
  if (options.workers !== undefined) return { count: options.workers, why: '-w' };
  if (config.workers !== null)
    return { count: config.workers, why: 'workers setting (LEGATE_WORKERS or the config)' };
  return cpuBudget();
}

function addressHostPort(a: Address): { host: string; port: number } {
  if (a.kind !== 'tcp') throw new Error('the admin endpoint listens on TCP only');
  return { host: a.host, port: a.port };
}

/** A worker's refusal of a reload, logged with its id and why. */
const REFUSED = 'reload refused by worker %d, which keeps serving the previous config: %s';
/**
 * How long a reload waits for each worker's answer; a worker silent longer counts as refusing
 * it. LEGATE_TEST_RELOAD_TIMEOUT_MS (with LEGATE_TEST_HOOKS=1) shortens it for a test.
 */
const RELOAD_TIMEOUT_MS = 30_000;
/** Time the main thread allows past `drain_timeout` before it ends the workers itself. */
const STOP_GRACE_MS = 2000;
const NO_TCP: TcpShared = { backends: [], services: [] };
const NO_HTTP: HttpShared = { peers: new SharedArrayBuffer(8) };

/** The TCP role's control plane, imported only when a config has TCP services. */
async function makeTcpRole(
  config: LegateConfig,
  workers: number,
  log: Logger,
  previous: TcpRole | null,
): Promise<TcpRole | null> {
  if (config.tcp.services.length === 0) return null;
  const { TcpRole } = await import('../roles/tcp.ts');
  return new TcpRole(config.tcp, workers, log, previous ?? undefined);
}

/** The HTTP role's control plane (its shared peer table) when a config has HTTP servers. */
function makeHttpRole(
  config: LegateConfig,
  workers: number,
  previous: HttpRole | null,
): HttpRole | null {
  if (config.http.servers.length === 0) return null;
  return new HttpRole(config.http, workers, previous ?? undefined);
}

/** What the workers get of a config and the roles' control planes made for it. */
function makeGeneration(
  config: LegateConfig,
  pools: readonly PoolState[],
  tcp: TcpRole | null,
  http: HttpRole | null,
): Generation {
  return {
    config,
    pools: pools.map((p) => p.shared),
    tcp: tcp?.shared ?? NO_TCP,
    http: http?.shared ?? NO_HTTP,
  };
}

/** The roles' control planes of one generation: the running one, or a reload's until it commits. */
interface Roles {
  readonly pools: readonly PoolState[];
  readonly tcp: TcpRole | null;
  readonly http: HttpRole | null;
}

/** A worker died: what it held in these roles' shared memory is given back. */
function forgetWorker(roles: Roles, workerId: number): void {
  for (const p of roles.pools) p.forgetWorkerClients(workerId);
  roles.tcp?.workerDied(workerId);
  roles.http?.workerDied(workerId);
}

/** Snapshots the recent latency window spans (of `-i`, the stats interval). */
const RECENT_SNAPSHOTS = 10;

/**
 * The control plane: builds each pool's ring and health tables in shared memory, runs the
 * workers, ejects and re-admits servers, reloads on SIGHUP, drains on SIGTERM/SIGINT.
 */
export class Supervisor {
  readonly #log: Logger;
  readonly #options: RunOptions;
  readonly #workers: WorkerSet;
  readonly #startedAt = Date.now();
  #config: LegateConfig;
  #pools: PoolState[];
  #tcp: TcpRole | null = null;
  /** The reload running now, or the last one; the next waits for it. */
  #reloading: Promise<unknown> = Promise.resolve();
  #http: HttpRole | null = null;
  /** A reload's roles while the workers take it up; null when none is pending. */
  #pending: Roles | null = null;
  #generation: Generation;
  #reloads = 0;
  #stopping = false;
  readonly #metrics: MetricsStore;
  #admin: HttpEngine | null = null;
  #statsPort: Server | null = null;

  constructor(config: LegateConfig, options: RunOptions, log: Logger) {
    this.#log = log;
    this.#options = options;
    // Recent latency (/stats, legate top) reaches back ten snapshots: 10 s by default.
    this.#metrics = new MetricsStore(RECENT_SNAPSHOTS * options.statsIntervalMs);
    this.#config = config;
    const { count, why } = workerCount(config, options);
    log.info({ workers: count, why }, '%d worker%s: %s', count, count === 1 ? '' : 's', why);
    this.#pools = config.redis.map((p) => new PoolState(p, count, log));
    this.#http = makeHttpRole(config, count, null);
    this.#http?.start(log);
    this.#generation = makeGeneration(config, this.#pools, null, this.#http);
    this.#workers = new WorkerSet(
      count,
      (workerId) => ({
        workerId,
        workers: count,
        generation: this.#generation,
        logLevel: options.logLevel,
        logFile: options.logFile,
        startedAt: this.#startedAt,
        testHooks: process.env.LEGATE_TEST_HOOKS === '1',
        statsIntervalMs: options.statsIntervalMs,
      }),
      (_, m) => this.#onWorkerMessage(m),
      (workerId) => {
        forgetWorker({ pools: this.#pools, tcp: this.#tcp, http: this.#http }, workerId);
        // It may have taken the pending generation up already and hold places in its tables.
        if (this.#pending !== null) forgetWorker(this.#pending, workerId);
        this.#metrics.retire(workerId);
      },
      log,
      process.env.LEGATE_TEST_HOOKS === '1' && process.env.LEGATE_TEST_RELOAD_TIMEOUT_MS
        ? Number(process.env.LEGATE_TEST_RELOAD_TIMEOUT_MS)
        : RELOAD_TIMEOUT_MS,
    );
  }

  get config(): LegateConfig {
    return this.#config;
  }

  get pools(): readonly PoolState[] {
    return this.#pools;
  }

  /** Starts; a reload asked for meanwhile (SIGHUP) runs once it has started. */
  start(): Promise<void> {
    const started = this.#start();
    this.#reloading = started.catch(() => false);
    return started;
  }

  async #start(): Promise<void> {
    this.#tcp = await makeTcpRole(this.#config, this.#workers.count, this.#log, null);
    await this.#tcp?.start();
    this.#tcp?.commit();
    this.#generation = makeGeneration(this.#config, this.#pools, this.#tcp, this.#http);
    await this.#startAdmin();
    await this.#workers.start();
    const count = this.#workers.count;
    this.#log.info(
      { version: VERSION, workers: count },
      'legate %s started on pid %d, %d workers',
      VERSION,
      process.pid,
      count,
    );
    this.#logListening(this.#config);
    // Config parsing and module loading leave garbage and a grown heap: give it back once.
    setTimeout(releaseIdleMemory, 1000).unref();
    // The optimizing compilers come back on a second after that. Turned on at once, or with the
    // release, something in the workers' first second (their own release, first stats report)
    // still had them page their code in, in about one start of two (85-86 MB at rest with -w 1
    // instead of 79.5-80); until then traffic runs on V8's baseline code.
    setTimeout(resumeJit, 2000).unref();
  }

  /** What the admin endpoints and the stats port read. */
  readonly adminSource: AdminSource = this.#makeAdminSource();

  #makeAdminSource(): AdminSource {
    // Getters read the live worker set; `self` because `this` inside them is the object.
    const self = this;
    return {
      version: VERSION,
      startedAt: this.#startedAt,
      get workers() {
        return self.#workers.count;
      },
      get workersReady() {
        return self.#workers.ready;
      },
      config: () => this.#config,
      pools: () => this.#metrics.view(this.#poolOrder()),
      recentLatency: () => this.#metrics.recent(this.#poolOrder()),
      serverStates: () => this.#serverStates(),
      prometheus: () => {
        const tcp = this.#tcp === null ? '' : renderTcpPrometheus(tcpStatsJson(this.#tcp));
        const http = this.#httpStats();
        const httpText =
          http === null
            ? ''
            : renderHttpPrometheus(http.json, http.totals) +
              (this.#http?.breakersPrometheus() ?? '');
        return (
          renderPrometheus(this.adminSource.pools(), {
            workers: this.#workers.count,
            startedAt: this.#startedAt,
            version: VERSION,
            servers: this.#serverStates(),
          }) +
          tcp +
          httpText
        );
      },
      http: () => this.#httpStats()?.json ?? null,
      tcp: () => (this.#tcp === null ? null : tcpStatsJson(this.#tcp)),
      tcpReadiness: () => this.#tcp?.readiness() ?? [],
      setTcpServerState: (backend, server, state) => {
        if (this.#tcp === null) throw new UnknownNameError('the config has no TCP services');
        return this.#tcp.setServerState(backend, server, state);
      },
    };
  }

  /** The HTTP role's numbers over all workers, when the running config has it. */
  #httpStats(): { json: HttpStatsJson; totals: HttpTotals } | null {
    if (this.#http === null) return null;
    const { totals, engine } = this.#metrics.http();
    const stats = httpStatsJson(this.#config.http, totals, engine, (b) =>
      b.listen.map(formatAddress),
    );
    const breakers = this.#http.breakersJson();
    const json = breakers.length === 0 ? stats : { ...stats, breakers };
    return { json, totals };
  }

  /** Pool and server names of the running config, in order. */
  #poolOrder(): { name: string; servers: string[] }[] {
    return this.#config.redis.map((p) => ({ name: p.name, servers: p.servers.map((s) => s.name) }));
  }

  #serverStates() {
    return new Map(
      this.#pools.map((p) => [
        p.config.name,
        p.config.servers.map((s, i) => ({
          name: s.name,
          live: p.health.state(i) === LIVE,
          ejects: p.health.ejects(i),
          ejectedAt: p.health.ejectedAt(i),
        })),
      ]),
    );
  }

  async #startAdmin(): Promise<void> {
    const admin = this.#options.admin ?? addressHostPort(this.#config.admin.listen);
    const { engine, why } = chooseHttpEngine(this.#config.admin.engine);
    const port = await engine.listen(admin.host, admin.port, adminHandler(this.adminSource));
    this.#admin = engine;
    this.#log.info(
      { address: `${admin.host}:${port}`, engine: engine.name, why },
      'admin listening on %s:%d (%s engine: %s)',
      admin.host,
      port,
      engine.name,
      why,
    );
    const o = this.#options;
    this.#statsPort = await startStatsPort(o.statsAddr, o.statsPort, this.adminSource);
    const statsPort = (this.#statsPort.address() as { port: number }).port;
    this.#log.info(
      { address: `${o.statsAddr}:${statsPort}` },
      'stats listening on %s:%d',
      o.statsAddr,
      statsPort,
    );
  }

  /**
   * Re-reads the config file; a bad one is logged and the running config stays. Reloads run one
   * after another: a second SIGHUP while one is resolving builds on the config that one leaves.
   */
  reload(): Promise<boolean> {
    const next = this.#reloading.then(() => this.#reload());
    this.#reloading = next.catch(() => false);
    return next;
  }

  async #reload(): Promise<boolean> {
    let next: LegateConfig;
    try {
      next = loadConfig(this.#config.file);
    } catch (err) {
      const detail =
        err instanceof ConfigError
          ? err.issues.map((i) => `${i.path}: ${i.message}`)
          : [(err as Error).message];
      return this.#refuseReload({ file: this.#config.file, errors: detail }, err as Error);
    }
    const count = this.#workers.count;
    if (workerCount(next, this.#options).count !== count) {
      this.#log.warn(
        { workers: count },
        'a change of worker count takes effect at the next start; keeping %d',
        count,
      );
    }
    let tcp: TcpRole | null = null;
    try {
      tcp = await makeTcpRole(next, count, this.#log, this.#tcp);
      await tcp?.start();
    } catch (err) {
      tcp?.close();
      return this.#refuseReload({ file: next.file, err: (err as Error).message }, err as Error);
    }
    const previous = new Map(this.#pools.map((p) => [p.config.name, p]));
    const pools = next.redis.map((p) => new PoolState(p, count, this.#log, previous.get(p.name)));
    const http = makeHttpRole(next, count, this.#http);
    // The workers read the servers' state as soon as they take the generation up.
    tcp?.publish();
    const generation = makeGeneration(next, pools, tcp, http);
    // Until every worker has taken it, the running config is the one /stats, /metrics and
    // `legate top` describe, and the one a restarted worker starts on.
    const starts = this.#workers.starts();
    this.#pending = { pools, tcp, http };
    let answers: ReloadAnswer[];
    try {
      answers = await this.#workers.reload(generation);
    } finally {
      this.#pending = null;
    }
    const discard = () => {
      for (const p of pools) p.ejector.close();
      tcp?.close();
    };
    // stop() has closed the running roles meanwhile; these must not start.
    if (this.#stopping) {
      discard();
      return false;
    }
    const refused = answers.filter((a) => a.outcome === 'refused' || a.outcome === 'silent');
    if (refused.length > 0) {
      await this.#rollBack(answers);
      discard();
      this.#log.error(
        { file: next.file, workers: refused.map((a) => a.worker) },
        'reload refused, keeping the running config: %d of %d workers could not apply it',
        refused.length,
        count,
      );
      return false;
    }
    for (const p of this.#pools) p.ejector.close();
    for (const p of pools) p.commit();
    tcp?.commit();
    this.#tcp?.close();
    this.#tcp = tcp;
    // Before the new breakers start: they may share memory with the old ones.
    this.#http?.close();
    http?.start(this.#log);
    this.#http = http;
    this.#config = next;
    this.#pools = pools;
    this.#generation = generation;
    this.#reloads++;
    this.#log.info(
      { file: next.file, reload: this.#reloads, pools: pools.map((p) => p.config.name) },
      'config reloaded from %s',
      next.file,
    );
    this.#logListening(next);
    // A worker that ended meanwhile (before it answered, or after) may be back already, on the
    // generation it was started with: the previous one. One not back yet starts on this one.
    const restarted = this.#workers.startedSince(starts);
    if (restarted.length > 0)
      this.#logRefused(await this.#workers.reload(generation, restarted), REFUSED);
    return true;
  }

  /** Logs a reload refused before any worker saw it (`fields` say where); always false. */
  #refuseReload(fields: Record<string, unknown>, err: Error): false {
    this.#log.error(fields, 'reload refused, keeping the running config: %s', err.message);
    return false;
  }

  /**
   * A reload some worker refused: each refusal is logged, and the workers that applied it are
   * handed the running generation again, so that every worker serves what the main thread shows.
   */
  async #rollBack(answers: readonly ReloadAnswer[]): Promise<void> {
    this.#logRefused(answers, REFUSED);
    // A kept memory may hold what the refused generation's servers wrote.
    this.#tcp?.publish();
    // A worker restarted meanwhile began on the running generation (the only one makeTask hands
    // out before a commit): only the ones that applied this one need it back, and the silent
    // ones, which may yet; a worker applies reloads in order, so this comes after, whenever.
    const back = answers
      .filter((a) => a.outcome === 'applied' || a.outcome === 'silent')
      .map((a) => a.worker);
    if (back.length === 0) return;
    this.#logRefused(
      await this.#workers.reload(this.#generation, back),
      'worker %d cannot go back to the running config and serves the refused one: %s',
    );
  }

  /**
   * Logs each refusal among `answers` with `message` (its worker's id, then the reason), and each
   * worker that did not answer in time.
   */
  #logRefused(answers: readonly ReloadAnswer[], message: string): void {
    for (const a of answers)
      if (a.outcome === 'refused')
        this.#log.error({ worker: a.worker, err: a.error }, message, a.worker, a.error);
      else if (a.outcome === 'silent')
        this.#log.error(
          { worker: a.worker, timeout_ms: this.#workers.reloadTimeoutMs },
          'worker %d did not answer a reload within %d ms; taken as refusing it',
          a.worker,
          this.#workers.reloadTimeoutMs,
        );
  }

  /** Test hook (LEGATE_TEST_HOOKS=1): makes worker 0's thread die. */
  crashWorker(workerId: number): void {
    this.#workers.postTo(workerId, { type: 'crash' });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const drain = this.#config.drainTimeoutMs;
    await this.#workers.stop(drain, drain + STOP_GRACE_MS);
    for (const p of this.#pools) p.ejector.close();
    this.#tcp?.close();
    this.#http?.close();
    await this.#admin?.close();
    const stats = this.#statsPort;
    if (stats) await new Promise((resolve) => stats.close(resolve));
  }

  #logListening(config: LegateConfig): void {
    for (const pool of config.redis) {
      const address = formatAddress(pool.listen);
      this.#log.info({ pool: pool.name, address }, 'pool %s listening on %s', pool.name, address);
    }
    for (const service of config.tcp.services) {
      const address = service.listen.map(formatAddress).join(', ');
      this.#log.info(
        { service: service.name, address, backend: service.backend },
        'service %s listening on %s',
        service.name,
        address,
      );
    }
    for (const [i, block] of config.http.servers.entries()) {
      const address = block.listen.map(formatAddress).join(', ');
      const name = serverBlockName(block.name, i);
      this.#log.info({ server: name, address }, 'http server %s listening on %s', name, address);
    }
  }

  #onWorkerMessage(m: WorkerMessage): void {
    if (m.type === 'metrics') {
      this.#metrics.update(m.snapshot);
    } else if (m.type === 'server-failing') {
      // A worker that has taken a pending reload up counts failures in that reload's health
      // table: each ejector checks its own table, so the report reaches the one it belongs to
      // (a failure limit is reported once, when reached: lost, the server would stay in the ring).
      this.#pools.find((p) => p.config.name === m.pool)?.ejector.serverFailing(m.server, m.reason);
      this.#pending?.pools
        .find((p) => p.config.name === m.pool)
        ?.ejector.serverFailing(m.server, m.reason);
    }
  }
}

/** `legate run`: starts, then serves until SIGTERM/SIGINT; SIGHUP reloads. Resolves with the exit code. */
export async function runProxy(config: LegateConfig, options: RunOptions): Promise<number> {
  const log = createLogger(options.logLevel, {}, options.logFile);
  if (options.pidFile !== null) writeFileSync(options.pidFile, `${process.pid}\n`);
  try {
    return await serveUntilSignal(config, options, log);
  } finally {
    if (options.pidFile !== null) rmSync(options.pidFile, { force: true });
  }
}

async function serveUntilSignal(
  config: LegateConfig,
  options: RunOptions,
  log: Logger,
): Promise<number> {
  for (const w of config.warnings) log.warn({ file: w.file, line: w.line }, '%s', formatIssue(w));
  const supervisor = new Supervisor(config, options, log);
  const onHup = () => {
    log.info({ signal: 'SIGHUP' }, 'received SIGHUP, reloading %s', supervisor.config.file);
    void supervisor.reload();
  };
  // Before start: a SIGHUP that comes as soon as legate says it started must not kill it.
  process.on('SIGHUP', onHup);
  try {
    await supervisor.start();
  } catch (err) {
    process.off('SIGHUP', onHup);
    log.fatal({ err: (err as Error).message }, 'cannot start: %s', (err as Error).message);
    await supervisor.stop();
    return 1;
  }
  const onCrashHook = () => supervisor.crashWorker(0);
  if (process.env.LEGATE_TEST_HOOKS === '1') process.on('SIGUSR2', onCrashHook);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    options.onServing?.();
  });
  process.off('SIGHUP', onHup);
  process.off('SIGUSR2', onCrashHook);
  log.info(
    { signal, drain_timeout_ms: supervisor.config.drainTimeoutMs },
    'received %s, draining',
    signal,
  );
  try {
    await supervisor.stop();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'stop failed: %s', (err as Error).message);
    return 1;
  }
  log.info('stopped');
  return 0;
}
