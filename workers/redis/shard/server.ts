import type { RedisPoolConfig, ServerSpec } from '../../../engine/config/types.ts';
import type { Logger } from '../../../engine/log.ts';
import type { ServerCounters } from '../../../engine/metrics/snapshot.ts';
import type { HealthTable } from '../../../engine/shared/health-memory.ts';
import type { FlushScheduler } from '../../net/flush-scheduler.ts';
import { ServerStats } from '../stats.ts';
import {
  type ConnectionOwner,
  isFailureReply,
  type LossKind,
  ShardConnection,
} from './connection.ts';

const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2000;
/** Connect timeout when the pool sets no `timeout`. */
const DEFAULT_CONNECT_TIMEOUT_MS = 1000;

/** Told when a server reaches the pool's failure limit, for the main thread to eject it. */
export type FailingListener = (server: number, reason: string) => void;

/** Someone paused until a connection's backlog drains (a client session). */
export interface DrainWaiter {
  shardDrained(): void;
}

/**
 * One shard as seen from one worker: this worker's `server_connections` connections to it,
 * each client session on one of them, reconnected on demand, with a backoff after a failed connect during which
 * requests are refused at once rather than queued on a dead socket. Failures are counted in
 * shared memory, across workers, for ejection.
 */
export class ShardServer implements ConnectionOwner {
  readonly name: string;
  readonly index: number;
  readonly spec: ServerSpec;
  readonly redisAuth: string | null;
  readonly redisDb: number;
  readonly tcpKeepalive: boolean;
  readonly connectTimeoutMs: number;
  /** Handed on to this server's successor at a reload, so its counters keep counting. */
  readonly stats: ServerStats;
  readonly #address: { host: string; port: number } | { path: string };
  readonly #conns: (ShardConnection | null)[];
  readonly #scheduler: FlushScheduler;
  readonly #log: Logger;
  readonly #health: HealthTable;
  readonly #failureLimit: number;
  readonly #onFailing: FailingListener;
  readonly #drainWaiters = new Set<DrainWaiter>();
  #backoffMs = 0;
  #downUntil = 0;
  /** Why the last connection failed, for the error reply while in backoff. */
  lastError = '';

  constructor(
    pool: RedisPoolConfig,
    spec: ServerSpec,
    index: number,
    scheduler: FlushScheduler,
    log: Logger,
    health: HealthTable,
    onFailing: FailingListener,
    stats: ServerStats = new ServerStats(),
  ) {
    this.name = spec.name;
    this.stats = stats;
    this.index = index;
    this.spec = spec;
    this.redisAuth = pool.redisAuth;
    this.redisDb = pool.redisDb;
    this.tcpKeepalive = pool.tcpKeepalive;
    this.connectTimeoutMs = pool.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#address =
      spec.address.kind === 'tcp'
        ? { host: spec.address.host, port: spec.address.port }
        : { path: spec.address.path };
    this.#conns = new Array(pool.serverConnections).fill(null);
    this.#scheduler = scheduler;
    this.#log = log;
    this.#health = health;
    this.#failureLimit = pool.autoEjectHosts ? pool.serverFailureLimit : 0;
    this.#onFailing = onFailing;
  }

  /** Whether a reload may keep this server as it is: the same connections, the same health memory. */
  sameAs(pool: RedisPoolConfig, spec: ServerSpec, health: HealthTable): boolean {
    return (
      this.#health.sab === health.sab &&
      this.name === spec.name &&
      JSON.stringify(this.spec.address) === JSON.stringify(spec.address) &&
      this.redisAuth === pool.redisAuth &&
      this.redisDb === pool.redisDb &&
      this.#conns.length === pool.serverConnections &&
      this.connectTimeoutMs === (pool.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
    );
  }

  /**
   * The connection of `lane` (a client session's, fixed when it connects) to send on, or null
   * while the shard is in connect backoff. One connection per session keeps a client's requests
   * to this shard in its order; sessions share the connections round-robin.
   */
  pick(lane: number): ShardConnection | null {
    const conns = this.#conns;
    const i = lane % conns.length;
    const conn = conns[i];
    if (conn !== null && !conn.closed) return conn;
    if (this.#downUntil !== 0 && Date.now() < this.#downUntil) return null;
    const fresh = new ShardConnection(this, this.#address, this.#scheduler);
    conns[i] = fresh;
    return fresh;
  }

  /** Opens every connection now (the pool's `preconnect`). */
  preconnect(): void {
    for (let i = 0; i < this.#conns.length; i++) this.pick(i);
  }

  checkTimeouts(at: number, timeoutMs: number): void {
    for (const c of this.#conns) if (c !== null) c.checkTimeout(at, timeoutMs);
  }

  /** Pauses `waiter` until this server's connections drain (backpressure). */
  waitForDrain(waiter: DrainWaiter): void {
    this.#drainWaiters.add(waiter);
  }

  /** The server left the pool (reload): close each connection once its last reply is in. */
  retire(): void {
    for (const c of this.#conns) c?.retire();
  }

  close(): void {
    for (const c of this.#conns) c?.destroy('legate is shutting down', 'closed');
  }

  /**
   * Counters with the gauges filled in from the connections as they are now, in twemproxy's
   * sense: in_queue is requests not yet written to the server, out_queue those written and
   * awaiting their reply.
   */
  snapshotCounters(): ServerCounters {
    const c = this.stats.counters;
    let waiting = 0;
    let waitingBytes = 0;
    let unsent = 0;
    let unsentBytes = 0;
    for (const conn of this.#conns) {
      if (conn === null || conn.closed) continue;
      waiting += conn.inFlight;
      waitingBytes += conn.inFlightBytes;
      unsent += conn.queuedRequests;
      unsentBytes += conn.bufferedBytes;
    }
    c.in_queue = unsent;
    c.in_queue_bytes = unsentBytes;
    c.out_queue = Math.max(0, waiting - unsent);
    c.out_queue_bytes = Math.max(0, waitingBytes - unsentBytes);
    return c;
  }

  connectionReady(): void {
    this.stats.counters.server_connections++;
    if (this.#backoffMs !== 0) {
      this.#log.info({ server: this.name }, 'shard %s reachable again', this.name);
    }
    this.#backoffMs = 0;
    this.#downUntil = 0;
  }

  connectionLost(conn: ShardConnection, reason: string, wasReady: boolean, kind: LossKind): void {
    const i = this.#conns.indexOf(conn);
    if (i !== -1) this.#conns[i] = null;
    const c = this.stats.counters;
    if (wasReady) c.server_connections--;
    if (kind === 'closed') return;
    if (kind === 'eof') c.server_eof++;
    else if (kind === 'error') c.server_err++;
    else c.server_timedout++;
    this.lastError = reason;
    if (!wasReady) {
      this.#backoffMs = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, this.#backoffMs * 2));
      this.#downUntil = Date.now() + this.#backoffMs;
    }
    this.#log.warn(
      { server: this.name, reason, backoff_ms: this.#backoffMs },
      'shard %s connection lost: %s',
      this.name,
      reason,
    );
    // Timeouts are per request, as in twemproxy; a lost connection is one event for all workers.
    if (kind === 'timeout') this.#failure(reason);
    else this.#failed(this.#health.recordConnectionLoss(this.index, Date.now()), reason);
  }

  requestSent(bytes: number): void {
    this.stats.sent(bytes);
  }

  replyReceived(buf: Buffer, start: number, end: number, micros: number): void {
    this.stats.received(end - start, micros);
    if (buf[start] === 45 /* - */ && isFailureReply(buf, start, end)) {
      this.#failure(`replied ${buf.toString('latin1', start + 1, Math.min(end - 2, start + 80))}`);
    }
  }

  repliesHealthy(): void {
    this.#health.recordSuccess(this.index);
  }

  connectionDrained(): void {
    if (this.#drainWaiters.size === 0) return;
    const waiters = [...this.#drainWaiters];
    this.#drainWaiters.clear();
    for (const w of waiters) w.shardDrained();
  }

  /** Counts a failure across workers; the worker that reaches the limit tells the main thread. */
  #failure(reason: string): void {
    this.#failed(this.#health.recordFailure(this.index), reason);
  }

  /** The worker whose failure reaches the limit tells the main thread (exactly one does). */
  #failed(failures: number, reason: string): void {
    if (failures === this.#failureLimit) this.#onFailing(this.index, reason);
  }
}
