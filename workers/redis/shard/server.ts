import type { RedisPoolConfig, ServerSpec } from '../../../engine/config/types.ts';
import type { Logger } from '../../../engine/log.ts';
import type { FlushScheduler } from '../write-batch.ts';
import { type ConnectionOwner, ShardConnection } from './connection.ts';

const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2000;
/** Connect timeout when the pool sets no `timeout`. */
const DEFAULT_CONNECT_TIMEOUT_MS = 1000;

/**
 * One shard as seen from one worker: this worker's `server_connections` connections to it,
 * used round-robin, reconnected on demand, with a backoff after a failed connect during which
 * requests are refused at once rather than queued on a dead socket.
 */
export class ShardServer implements ConnectionOwner {
  readonly name: string;
  readonly index: number;
  readonly redisAuth: string | null;
  readonly redisDb: number;
  readonly tcpKeepalive: boolean;
  readonly connectTimeoutMs: number;
  readonly #address: { host: string; port: number } | { path: string };
  readonly #conns: (ShardConnection | null)[];
  readonly #scheduler: FlushScheduler;
  readonly #log: Logger;
  #next = 0;
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
  ) {
    this.name = spec.name;
    this.index = index;
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
  }

  /** A connection to send on, or null while the shard is in connect backoff. */
  pick(): ShardConnection | null {
    const conns = this.#conns;
    const i = this.#next;
    this.#next = i + 1 === conns.length ? 0 : i + 1;
    const conn = conns[i];
    if (conn !== null && !conn.closed) return conn;
    if (this.#downUntil !== 0 && Date.now() < this.#downUntil) return null;
    const fresh = new ShardConnection(this, this.#address, this.#scheduler);
    conns[i] = fresh;
    return fresh;
  }

  /** Opens every connection now (the pool's `preconnect`). */
  preconnect(): void {
    for (let i = 0; i < this.#conns.length; i++) this.pick();
  }

  checkTimeouts(now: number, timeoutMs: number): void {
    for (const c of this.#conns) if (c !== null) c.checkTimeout(now, timeoutMs);
  }

  close(): void {
    for (const c of this.#conns) c?.destroy('legate is shutting down');
  }

  connectionReady(): void {
    if (this.#backoffMs !== 0)
      this.#log.info({ server: this.name }, 'shard %s reachable again', this.name);
    this.#backoffMs = 0;
    this.#downUntil = 0;
  }

  connectionLost(conn: ShardConnection, reason: string, wasReady: boolean): void {
    const i = this.#conns.indexOf(conn);
    if (i !== -1) this.#conns[i] = null;
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
  }

  replyReceived(): void {}
}
