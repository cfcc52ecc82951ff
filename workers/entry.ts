import { formatAddress } from '../engine/config/address.ts';
import { createLogger } from '../engine/log.ts';
import type { ControlMessage, WorkerMessage, WorkerTask } from '../engine/supervisor/protocol.ts';
import { RedisPool } from './redis/pool.ts';
import { FlushScheduler } from './redis/write-batch.ts';

/**
 * A data-plane worker: one long-lived piscina task that serves every pool until told to stop.
 * Resolves when it has stopped; rejects only if the thread itself fails.
 */
export default async function serve(task: WorkerTask): Promise<void> {
  const log = createLogger(task.logLevel, { worker: task.workerId });
  const scheduler = new FlushScheduler();
  const identity = { id: task.workerId, count: task.workers, startedAt: task.startedAt };
  const { config, pools: shared } = task.generation;
  const pools = config.redis.map(
    (p, i) => new RedisPool(p, shared[i].ring, scheduler, log, identity),
  );
  const post = (m: WorkerMessage) => task.port.postMessage(m);
  try {
    for (const pool of pools) {
      if (await pool.listen())
        log.debug(
          { pool: pool.config.name, address: formatAddress(pool.config.listen) },
          'listening',
        );
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
