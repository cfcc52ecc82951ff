import type { RedisPoolConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { PoolRing } from '../ring/pool-ring.ts';
import { type HealthTable, LIVE } from '../shared/health-memory.ts';
import { probeRedis } from './redis-probe.ts';

/** A probe's own timeout when the pool sets no `timeout`. */
const DEFAULT_PROBE_TIMEOUT_MS = 1000;

/**
 * Main thread: ejects a pool's servers that reach `server_failure_limit` consecutive failures
 * (counted by all workers in shared memory) and re-admits them only after `server_retry_timeout`
 * AND a passing health check — twemproxy re-adds them blindly.
 */
export class PoolEjector {
  readonly pool: RedisPoolConfig;
  readonly health: HealthTable;
  readonly #ring: PoolRing;
  readonly #log: Logger;
  readonly #timers = new Map<number, NodeJS.Timeout>();
  #closed = false;

  constructor(pool: RedisPoolConfig, ring: PoolRing, health: HealthTable, log: Logger) {
    this.pool = pool;
    this.#ring = ring;
    this.health = health;
    this.#log = log.child({ pool: pool.name });
  }

  /** Whether every server is out of the ring (the pool cannot serve). */
  get allEjected(): boolean {
    return this.pool.servers.every((_, i) => this.health.state(i) !== LIVE);
  }

  /**
   * A worker saw a server reach the failure limit. While a reload is pending the report may
   * belong to the other config's pool of this name (the supervisor offers it to both): an index
   * past this pool's servers is not this pool's, and this table's own count decides the rest.
   */
  serverFailing(server: number, reason: string): void {
    if (!this.pool.autoEjectHosts || this.#closed || server >= this.pool.servers.length) return;
    if (this.health.state(server) !== LIVE) return;
    const failures = this.health.failures(server);
    if (failures < this.pool.serverFailureLimit) return;
    this.health.markEjected(server, Math.floor(Date.now() / 1000));
    const generation = this.#republish();
    const name = this.pool.servers[server].name;
    this.#log.warn(
      { server: name, failures, reason, retry_ms: this.pool.serverRetryTimeoutMs, generation },
      'server %s ejected from pool %s after %d failures: %s',
      name,
      this.pool.name,
      failures,
      reason,
    );
    this.#scheduleProbe(server);
  }

  /**
   * Takes over servers a previous ejector left ejected in a health table kept across a reload:
   * each is probed when its retry timeout, counted from its ejection, has passed. Without this
   * the old ejector's probes, cancelled by the reload, would leave them out of the ring for good.
   */
  adoptEjected(): void {
    const nowMs = Date.now();
    for (let s = 0; s < this.pool.servers.length; s++) {
      if (this.health.state(s) === LIVE || this.#timers.has(s)) continue;
      const due = this.health.ejectedAt(s) * 1000 + this.pool.serverRetryTimeoutMs - nowMs;
      this.#scheduleProbe(s, Math.max(0, due));
    }
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  #republish(): number {
    return this.#ring.publish((i) => this.health.state(i) === LIVE);
  }

  #scheduleProbe(server: number, delayMs = this.pool.serverRetryTimeoutMs): void {
    const timer = setTimeout(() => this.#probe(server), delayMs);
    timer.unref();
    this.#timers.set(server, timer);
  }

  async #probe(server: number): Promise<void> {
    this.#timers.delete(server);
    if (this.#closed) return;
    const spec = this.pool.servers[server];
    const result = await probeRedis(
      this.pool,
      spec,
      this.pool.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    );
    if (this.#closed) return;
    if (!result.ok) {
      this.#log.warn(
        { server: spec.name, reason: result.reason },
        'server %s stays ejected: %s',
        spec.name,
        result.reason,
      );
      this.#scheduleProbe(server);
      return;
    }
    this.health.markLive(server);
    const generation = this.#republish();
    this.#log.info(
      { server: spec.name, generation },
      'server %s re-admitted to pool %s after a passing health check',
      spec.name,
      this.pool.name,
    );
  }
}
