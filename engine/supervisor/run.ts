import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { WorkerMessage, WorkerTask } from '../../workers/entry.ts';
import type { RunOptions } from '../cli/main.ts';
import { formatAddress } from '../config/address.ts';
import type { LegateConfig } from '../config/types.ts';
import { createLogger, type Logger } from '../log.ts';
import { PoolRing } from '../ring/pool-ring.ts';
import { VERSION } from '../version.ts';

/** The number of data-plane threads: -w, then LEGATE_WORKERS (applied into config), config, cores. */
export function workerCount(config: LegateConfig, options: RunOptions): number {
  return options.workers ?? config.workers ?? availableParallelism();
}

/**
 * The control plane: builds each pool's ring in shared memory, starts the workers through
 * piscina (one long-lived task a thread), restarts a worker whose thread dies, stops on
 * SIGINT/SIGTERM. Resolves with the exit code.
 */
export async function runProxy(config: LegateConfig, options: RunOptions): Promise<number> {
  const log = createLogger(options.logLevel);
  const workers = workerCount(config, options);
  const rings = config.redis.map((p) => new PoolRing(p));
  const startedAt = Date.now();
  const piscina = new Piscina<WorkerTask, void>({
    filename: new URL('../../workers/entry.ts', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: Number.POSITIVE_INFINITY,
    atomics: 'disabled',
    concurrentTasksPerWorker: 1,
  });
  const ports: (MessagePort | null)[] = new Array(workers).fill(null);
  let stopping = false;

  const start = (workerId: number): Promise<void> =>
    new Promise<void>((ready, failed) => {
      const { port1, port2 } = new MessageChannel();
      ports[workerId] = port1;
      port1.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') ready();
        else if (m.type === 'failed') failed(new Error(m.message));
      });
      const task: WorkerTask = {
        workerId,
        workers,
        config,
        rings: rings.map((r) => r.sab),
        logLevel: options.logLevel,
        startedAt,
        port: port2,
      };
      piscina.run(task, { transferList: [port2] as never }).then(
        () => port1.close(),
        (err: Error) => {
          port1.close();
          if (stopping) return;
          log.error(
            { worker: workerId, err: err.message },
            'worker %d died: %s; restarting it',
            workerId,
            err.message,
          );
          start(workerId).catch((e: Error) =>
            log.error(
              { worker: workerId, err: e.message },
              'worker %d failed to restart',
              workerId,
            ),
          );
          failed(err);
        },
      );
    });

  try {
    await Promise.all(Array.from({ length: workers }, (_, i) => start(i)));
  } catch (err) {
    stopping = true;
    log.fatal({ err: (err as Error).message }, 'cannot start: %s', (err as Error).message);
    for (const p of ports) p?.postMessage({ type: 'stop' });
    await piscina.destroy();
    return 1;
  }
  log.info(
    { version: VERSION, workers },
    'legate %s started on pid %d, %d workers',
    VERSION,
    process.pid,
    workers,
  );
  for (const pool of config.redis) {
    const address = formatAddress(pool.listen);
    log.info({ pool: pool.name, address }, 'pool %s listening on %s', pool.name, address);
  }
  return await waitForSignal(log, async () => {
    stopping = true;
    for (const p of ports) p?.postMessage({ type: 'stop' });
    await piscina.close();
  });
}

function waitForSignal(log: Logger, stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      log.info({ signal }, 'received %s, stopping', signal);
      stop().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (err: Error) => {
          log.error({ err: err.message }, 'stop failed: %s', err.message);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
