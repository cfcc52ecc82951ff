import type { RedisPoolConfig } from '../config/types.ts';
import { allocateRing, RingWriter } from '../shared/ring-memory.ts';
import { buildContinuum, continuumCapacity } from './build.ts';
import type { RingMember } from './continuum.ts';

/** Main thread: a pool's ring memory and how to republish it when the set of live servers changes. */
export class PoolRing {
  readonly pool: RedisPoolConfig;
  readonly writer: RingWriter;

  /** Allocates the pool's ring memory and publishes a first generation over the servers `isLive` admits. */
  constructor(pool: RedisPoolConfig, isLive: (serverIndex: number) => boolean = () => true) {
    this.pool = pool;
    const capacity = continuumCapacity(
      pool.distribution,
      this.#members(() => true),
    );
    this.writer = new RingWriter(allocateRing(pool.distribution, capacity));
    this.publish(isLive);
  }

  get sab(): SharedArrayBuffer {
    return this.writer.sab;
  }

  /** Rebuilds the continuum over the servers `isLive` admits and publishes it; returns the generation. */
  publish(isLive: (serverIndex: number) => boolean): number {
    return this.writer.publish(buildContinuum(this.pool.distribution, this.#members(isLive)));
  }

  #members(isLive: (serverIndex: number) => boolean): RingMember[] {
    return this.pool.servers.map((s, i) => ({ name: s.name, weight: s.weight, live: isLive(i) }));
  }
}
