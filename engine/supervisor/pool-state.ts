import type { RedisPoolConfig } from '../config/types.ts';
import { PoolEjector } from '../health/ejector.ts';
import type { Logger } from '../log.ts';
import { PoolRing } from '../ring/pool-ring.ts';
import { allocateHealth, HealthTable, LIVE } from '../shared/health-memory.ts';

/** Everything the main thread keeps for one Redis pool, and the shared memory workers get. */
export class PoolState {
  readonly config: RedisPoolConfig;
  readonly ring: PoolRing;
  readonly health: HealthTable;
  readonly ejector: PoolEjector;
  /** Int32 per worker: that worker's open client connections (summed to enforce client_connections). */
  readonly clients: SharedArrayBuffer;

  constructor(config: RedisPoolConfig, workers: number, log: Logger, previous?: PoolState) {
    this.config = config;
    // A reload that leaves the ring's inputs alone keeps the servers' health (and ejections).
    const keep = previous !== undefined && sameRing(previous.config, config);
    this.health = keep ? previous.health : new HealthTable(allocateHealth(config.servers.length));
    this.ring = new PoolRing(config, (i) => this.health.state(i) === LIVE);
    this.ejector = new PoolEjector(config, this.ring, this.health, log);
    this.clients =
      keep && previous.workerSlots === workers
        ? previous.clients
        : new SharedArrayBuffer(4 * workers);
  }

  get workerSlots(): number {
    return this.clients.byteLength / 4;
  }

  /**
   * The pool goes live after a reload: its ring is built again from the health table, which the
   * previous pool's ejector may have changed (a kept table is shared) while the workers took it up;
   * its ejector takes over probing the servers that table has ejected.
   */
  commit(): void {
    this.ring.publish((i) => this.health.state(i) === LIVE);
    this.ejector.adoptEjected();
  }

  /** A worker died: its clients are gone, so its count is zero. */
  forgetWorkerClients(worker: number): void {
    Atomics.store(new Int32Array(this.clients), worker, 0);
  }

  /** What a worker needs to serve the pool. */
  get shared(): PoolShared {
    return { ring: this.ring.sab, health: this.health.sab, clients: this.clients };
  }
}

export interface PoolShared {
  readonly ring: SharedArrayBuffer;
  readonly health: SharedArrayBuffer;
  readonly clients: SharedArrayBuffer;
}

function ringInputs(p: RedisPoolConfig): string {
  return JSON.stringify([
    p.hash,
    p.hashTag,
    p.distribution,
    p.servers.map((s) => [s.name, s.weight, s.address]),
  ]);
}

function sameRing(a: RedisPoolConfig, b: RedisPoolConfig): boolean {
  return ringInputs(a) === ringInputs(b);
}
