import { existsSync } from 'node:fs';
import { createLazyLogger, type Logger } from '../engine/log.ts';
import type { WorkerSnapshot } from '../engine/metrics/snapshot.ts';
import { releaseIdleMemory } from '../engine/release-memory.ts';
import type {
  ControlMessage,
  Generation,
  WorkerMessage,
  WorkerTask,
} from '../engine/supervisor/protocol.ts';
import { FlushScheduler } from './net/flush-scheduler.ts';
import { transport } from './net/transport.ts';
import { ROLES, type RoleContext, type RoleUnit, type WorkerRole } from './role.ts';

/** How long after start a worker collects its startup garbage. */
const AFTER_START_MS = 1000;

/** A role loaded in this worker, and the units it serves now by key. */
interface Hosted {
  readonly role: WorkerRole;
  units: Map<string, RoleUnit>;
}

/**
 * Everything one worker serves, of every role the config has, and how it changes on reload and
 * stop. A role's modules are imported only once the config has that role (memory: a Redis-only
 * worker never loads the TCP broker, and the other way round).
 */
export class WorkerRuntime {
  readonly #task: WorkerTask;
  /** The roles it can host (ROLES; a test passes roles of its own). */
  readonly #roles: typeof ROLES;
  readonly #log: Logger;
  readonly #context: RoleContext;
  readonly #hosted = new Map<string, Hosted>();
  /** The generation every unit serves now. */
  #generation: Generation;

  constructor(task: WorkerTask, roles: typeof ROLES = ROLES) {
    this.#task = task;
    this.#roles = roles;
    this.#generation = task.generation;
    this.#log = createLazyLogger(task.logLevel, { worker: task.workerId }, task.logFile);
    this.#context = {
      workerId: task.workerId,
      workers: task.workers,
      startedAt: task.startedAt,
      scheduler: new FlushScheduler(),
      log: this.#log,
      post: (m) => this.post(m),
    };
  }

  post(m: WorkerMessage): void {
    this.#task.port.postMessage(m);
  }

  async #role(name: string): Promise<Hosted> {
    let hosted = this.#hosted.get(name);
    if (hosted === undefined) {
      const role = this.#roles.find((r) => r.name === name) as (typeof ROLES)[number];
      const factory = await role.load();
      hosted = { role: factory(this.#context), units: new Map() };
      this.#hosted.set(name, hosted);
    }
    return hosted;
  }

  /** Opens every unit of the first generation; throws if one cannot listen. */
  async start(generation: Generation): Promise<void> {
    this.#generation = generation;
    // Once per process (every worker makes the same choice); at info only when it is not the
    // usual one, so that a worker with nothing to say need not load the logger.
    if (this.#task.workerId === 0)
      this.#log[transport.kind === 'uv' ? 'debug' : 'info'](
        { net: transport.kind, why: transport.why },
        'data plane on %s: %s',
        transport.kind === 'uv' ? 'bare libuv handles' : 'net.Socket',
        transport.why,
      );
    for (const r of this.#roles) {
      if (!r.has(generation.config)) continue;
      const hosted = await this.#role(r.name);
      for (const plan of hosted.role.plan(generation)) {
        const unit = plan.create();
        hosted.units.set(plan.key, unit);
        if (await unit.listen()) this.#log.debug({ role: r.name, unit: plan.key }, 'listening');
      }
    }
  }

  /**
   * A new config generation: units change in place, new ones listen, removed ones drain. New
   * listeners open before the old ones close (SO_REUSEPORT lets both hold a port), so a unit that
   * cannot listen leaves everything as it was: the new units closed, the changed ones given the
   * previous generation back, the old ones still accepting; it throws, and the reload is refused.
   * It resolves once the new generation serves; what it retired drains on after that (the main
   * thread waits for every worker's answer before it shows the new config).
   */
  async reload(generation: Generation): Promise<void> {
    const retired: RoleUnit[] = [];
    const opened: RoleUnit[] = [];
    const before = new Map<Hosted, Map<string, RoleUnit>>();
    // Units handed the new generation in place (or asked to take it: an update that threw).
    const updated = new Set<RoleUnit>();
    // Planning too can throw (a role's construction, an update half done): what it changed so far
    // is undone with the rest, so a refusal leaves this worker exactly on its running generation.
    try {
      for (const r of this.#roles) {
        const present = r.has(generation.config);
        if (!present && !this.#hosted.has(r.name)) continue;
        const hosted = await this.#role(r.name);
        const next = new Map<string, RoleUnit>();
        for (const plan of present ? hosted.role.plan(generation) : []) {
          const current = hosted.units.get(plan.key);
          if (current !== undefined) updated.add(current);
          if (current !== undefined && plan.update(current)) {
            next.set(plan.key, current);
          } else {
            if (current !== undefined) {
              updated.delete(current);
              retired.push(current);
            }
            const unit = plan.create();
            opened.push(unit);
            next.set(plan.key, unit);
          }
        }
        for (const [key, unit] of hosted.units) if (!next.has(key)) retired.push(unit);
        before.set(hosted, hosted.units);
        hosted.units = next;
      }
      for (const u of opened) await u.listen();
    } catch (err) {
      await Promise.all(opened.map((u) => u.close()));
      for (const [hosted, units] of before) hosted.units = units;
      this.#restore(updated);
      throw err;
    }
    this.#generation = generation;
    for (const u of retired) u.stopAccepting();
    const deadline = Date.now() + generation.config.drainTimeoutMs;
    for (const u of retired)
      u.drain(deadline).catch((err: Error) =>
        this.#log.error({ err: err.message }, 'draining a retired unit failed: %s', err.message),
      );
  }

  /** Gives units a refused reload changed in place their previous generation back. */
  #restore(changed: ReadonlySet<RoleUnit>): void {
    const previous = this.#generation;
    for (const r of this.#roles) {
      const hosted = this.#hosted.get(r.name);
      if (hosted === undefined || !r.has(previous.config)) continue;
      for (const plan of hosted.role.plan(previous)) {
        const unit = hosted.units.get(plan.key);
        if (unit !== undefined && changed.has(unit)) plan.update(unit);
      }
    }
  }

  snapshot(): void {
    const snapshot: WorkerSnapshot = { worker: this.#task.workerId, at: Date.now(), pools: [] };
    for (const hosted of this.#hosted.values())
      Object.assign(snapshot, hosted.role.snapshot([...hosted.units.values()]));
    this.post({ type: 'metrics', snapshot });
  }

  #units(): RoleUnit[] {
    return [...this.#hosted.values()].flatMap((h) => [...h.units.values()]);
  }

  async drain(drainTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + drainTimeoutMs;
    await Promise.all(this.#units().map((u) => u.drain(deadline)));
  }

  async close(): Promise<void> {
    await Promise.all(this.#units().map((u) => u.close()));
  }
}

/** How often a held reload looks whether it may go on, and how long it may be held at most. */
const HOLD_POLL_MS = 20;
const HOLD_LIMIT_MS = 60_000;

/**
 * Test hook (LEGATE_TEST_HOOKS=1 and LEGATE_TEST_HOLD_RELOAD=WORKER:FILE): that worker takes a
 * reload up only once FILE is gone, so that a test can act while the reload is pending.
 */
async function heldReload(task: WorkerTask): Promise<void> {
  const hold = task.testHooks ? process.env.LEGATE_TEST_HOLD_RELOAD : undefined;
  if (hold === undefined) return;
  const colon = hold.indexOf(':');
  if (Number(hold.slice(0, colon)) !== task.workerId) return;
  const file = hold.slice(colon + 1);
  for (const end = Date.now() + HOLD_LIMIT_MS; existsSync(file) && Date.now() < end; )
    await new Promise((resolve) => setTimeout(resolve, HOLD_POLL_MS));
}

/**
 * A data-plane worker: one long-lived piscina task that serves every unit until told to stop.
 * Resolves when it has stopped; rejects only if the thread itself fails.
 */
export default async function serve(task: WorkerTask): Promise<void> {
  const runtime = new WorkerRuntime(task);
  try {
    await runtime.start(task.generation);
  } catch (err) {
    runtime.post({ type: 'failed', message: (err as Error).message });
    await runtime.close();
    task.port.close();
    return;
  }
  runtime.post({ type: 'ready' });
  // What loading and starting left behind goes back once serving has begun (one GC, ~10 ms).
  setTimeout(releaseIdleMemory, AFTER_START_MS).unref();
  const metrics = setInterval(() => runtime.snapshot(), task.statsIntervalMs);
  runtime.snapshot();
  // One reload at a time, in the order sent: the main thread may send the next (or the running
  // generation back) before this worker has answered one it gave up waiting for.
  let reloads = Promise.resolve();
  const drainTimeoutMs = await new Promise<number>((resolve) => {
    task.port.on('message', (m: ControlMessage) => {
      if (m.type === 'stop') resolve(m.drainTimeoutMs);
      else if (m.type === 'reload') {
        const { id, generation } = m;
        reloads = reloads
          .then(() => heldReload(task))
          .then(() => runtime.reload(generation))
          .then(
            () => runtime.post({ type: 'reloaded', id }),
            (err: Error) => runtime.post({ type: 'reloaded', id, error: err.message }),
          );
      } else if (m.type === 'crash' && task.testHooks) {
        // Test hook (LEGATE_TEST_HOOKS=1 only): an uncaught error kills this thread, as a bug would.
        setImmediate(() => {
          throw new Error('worker crashed on purpose (LEGATE_TEST_HOOKS)');
        });
      }
    });
  });
  clearInterval(metrics);
  await runtime.drain(drainTimeoutMs);
  runtime.snapshot();
  task.port.close();
}
