import { formatAddress } from '../../engine/config/address.ts';
import type { PoolSnapshot } from '../../engine/metrics/snapshot.ts';
import type { RoleContext, RoleUnit, WorkerRole } from '../role.ts';
import { RedisPool } from './pool.ts';

/** The Redis role in a worker: one RedisPool per pool of the config. */
export function redisRole(ctx: RoleContext): WorkerRole {
  const identity = { id: ctx.workerId, count: ctx.workers, startedAt: ctx.startedAt };
  const failing = (pool: string, server: number, reason: string) =>
    ctx.post({ type: 'server-failing', pool, server, reason });
  return {
    plan: (generation) =>
      generation.config.redis.map((config, i) => ({
        key: config.name,
        create: () =>
          new RedisPool(config, generation.pools[i], ctx.scheduler, ctx.log, identity, failing),
        update: (unit) => {
          const pool = unit as RedisPool;
          // Same pool, same address: a reload changes it in place rather than re-open it.
          if (formatAddress(pool.config.listen) !== formatAddress(config.listen)) return false;
          pool.reconfigure(config, generation.pools[i]);
          return true;
        },
      })),
    snapshot: (units: readonly RoleUnit[]) => ({
      pools: units.map((u): PoolSnapshot => (u as RedisPool).snapshot()),
    }),
  };
}
