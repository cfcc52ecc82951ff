import type { MessagePort } from 'node:worker_threads';
import { formatAddress } from '../engine/config/address.ts';
import type { LegateConfig, LogLevel } from '../engine/config/types.ts';
import { createLogger } from '../engine/log.ts';
import { RedisPool } from './redis/pool.ts';
import { FlushScheduler } from './redis/write-batch.ts';

/** What the main thread hands each worker: its place, the config, the pools' ring memory, a port. */
export interface WorkerTask {
  readonly workerId: number;
  readonly workers: number;
  readonly config: LegateConfig;
  /** One SharedArrayBuffer per Redis pool, in config order. */
  readonly rings: readonly SharedArrayBuffer[];
  readonly logLevel: LogLevel;
  readonly startedAt: number;
  readonly port: MessagePort;
}

/** Worker → main thread. */
export type WorkerMessage =
  | { readonly type: 'listening'; readonly pool: string; readonly address: string }
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string };

/** Main thread → worker. */
export type ControlMessage = { readonly type: 'stop' };

/**
 * A data-plane worker: one long-lived piscina task that serves every pool until told to stop.
 * Resolves when it has stopped; rejects only if the thread itself fails.
 */
export default async function serve(task: WorkerTask): Promise<void> {
  const log = createLogger(task.logLevel, { worker: task.workerId });
  const scheduler = new FlushScheduler();
  const identity = { id: task.workerId, count: task.workers, startedAt: task.startedAt };
  const pools = task.config.redis.map(
    (p, i) => new RedisPool(p, task.rings[i], scheduler, log, identity),
  );
  const post = (m: WorkerMessage) => task.port.postMessage(m);
  try {
    for (const pool of pools) {
      if (await pool.listen())
        post({
          type: 'listening',
          pool: pool.config.name,
          address: formatAddress(pool.config.listen),
        });
    }
  } catch (err) {
    post({ type: 'failed', message: (err as Error).message });
    await Promise.all(pools.map((p) => p.close()));
    task.port.close();
    return;
  }
  post({ type: 'ready' });
  await new Promise<void>((resolve) => {
    task.port.on('message', (m: ControlMessage) => {
      if (m.type === 'stop') resolve();
    });
  });
  await Promise.all(pools.map((p) => p.close()));
  task.port.close();
}
