import { formatAddress } from '../engine/config/address.ts';
import type { RedisPoolConfig } from '../engine/config/types.ts';
import { createLazyLogger, type Logger } from '../engine/log.ts';
import { releaseIdleMemory } from '../engine/release-memory.ts';
import type {
  ControlMessage,
  Generation,
  WorkerMessage,
  WorkerTask,
} from '../engine/supervisor/protocol.ts';
import { FlushScheduler } from './net/flush-scheduler.ts';
import { transport } from './net/transport.ts';
import { RedisPool, type WorkerIdentity } from './redis/pool.ts';

/** How long after start a worker collects its startup garbage. */
const AFTER_START_MS = 1000;

/** Same pool, same address: a reload can change it in place rather than re-open it. */
function sameListen(a: RedisPoolConfig, b: RedisPoolConfig): boolean {
  return formatAddress(a.listen) === formatAddress(b.listen);
}

/** Everything one worker serves, and how it changes on reload and stop. */
class WorkerRuntime {
  readonly #task: WorkerTask;
  readonly #log: Logger;
  readonly #scheduler = new FlushScheduler();
  readonly #identity: WorkerIdentity;
  #pools = new Map<string, RedisPool>();

  constructor(task: WorkerTask) {
    this.#task = task;
    this.#log = createLazyLogger(task.logLevel, { worker: task.workerId }, task.logFile);
    this.#identity = { id: task.workerId, count: task.workers, startedAt: task.startedAt };
  }

  post(m: WorkerMessage): void {
    this.#task.port.postMessage(m);
  }

  #newPool(config: RedisPoolConfig, generation: Generation, index: number): RedisPool {
    return new RedisPool(
      config,
      generation.pools[index],
      this.#scheduler,
      this.#log,
      this.#identity,
      (pool, server, reason) => this.post({ type: 'server-failing', pool, server, reason }),
    );
  }

  /** Opens every pool of the first generation; throws if one cannot listen. */
  async start(generation: Generation): Promise<void> {
    // Once per process (every worker makes the same choice); at info only when it is not the
    // usual one, so that a worker with nothing to say need not load the logger.
    if (this.#task.workerId === 0)
      this.#log[transport.kind === 'uv' ? 'debug' : 'info'](
        { net: transport.kind, why: transport.why },
        'data plane on %s: %s',
        transport.kind === 'uv' ? 'bare libuv handles' : 'net.Socket',
        transport.why,
      );
    for (const [i, config] of generation.config.redis.entries()) {
      const pool = this.#newPool(config, generation, i);
      this.#pools.set(config.name, pool);
      if (await pool.listen())
        this.#log.debug({ pool: config.name, address: formatAddress(config.listen) }, 'listening');
    }
  }

  /** A new config generation: pools change in place, new ones listen, removed ones drain. */
  async reload(generation: Generation): Promise<void> {
    const next = new Map<string, RedisPool>();
    const retired: RedisPool[] = [];
    const opened: RedisPool[] = [];
    for (const [i, config] of generation.config.redis.entries()) {
      const current = this.#pools.get(config.name);
      if (current !== undefined && sameListen(current.config, config)) {
        current.reconfigure(config, generation.pools[i]);
        next.set(config.name, current);
      } else {
        if (current !== undefined) retired.push(current);
        const pool = this.#newPool(config, generation, i);
        opened.push(pool);
        next.set(config.name, pool);
      }
    }
    for (const [name, pool] of this.#pools) if (!next.has(name)) retired.push(pool);
    this.#pools = next;
    // Close before opening: a pool that moved may reuse an address another pool gave up. The
    // retired pools' clients drain after the new listeners are up, not before.
    for (const p of retired) p.stopAccepting();
    for (const p of opened) await p.listen();
    const deadline = Date.now() + generation.config.drainTimeoutMs;
    await Promise.all(retired.map((p) => p.drain(deadline)));
  }

  snapshot(): void {
    this.post({
      type: 'metrics',
      snapshot: {
        worker: this.#task.workerId,
        at: Date.now(),
        pools: [...this.#pools.values()].map((p) => p.snapshot()),
      },
    });
  }

  async drain(drainTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + drainTimeoutMs;
    await Promise.all([...this.#pools.values()].map((p) => p.drain(deadline)));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}

/**
 * A data-plane worker: one long-lived piscina task that serves every pool until told to stop.
 * Resolves when it has stopped, with why when it could not start (also posted as 'failed': the
 * result is what the main thread is sure to get, as the port may close before that message is
 * read); rejects only if the thread itself fails.
 */
export default async function serve(task: WorkerTask): Promise<string | undefined> {
  const runtime = new WorkerRuntime(task);
  try {
    await runtime.start(task.generation);
  } catch (err) {
    runtime.post({ type: 'failed', message: (err as Error).message });
    await runtime.close();
    task.port.close();
    return (err as Error).message;
  }
  runtime.post({ type: 'ready' });
  // What loading and starting left behind goes back once serving has begun (one GC, ~10 ms).
  setTimeout(releaseIdleMemory, AFTER_START_MS).unref();
  const metrics = setInterval(() => runtime.snapshot(), task.statsIntervalMs);
  runtime.snapshot();
  const drainTimeoutMs = await new Promise<number>((resolve) => {
    task.port.on('message', (m: ControlMessage) => {
      if (m.type === 'stop') resolve(m.drainTimeoutMs);
      else if (m.type === 'reload') {
        runtime.reload(m.generation).then(
          () => runtime.post({ type: 'reloaded' }),
          (err: Error) => runtime.post({ type: 'reloaded', error: err.message }),
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
