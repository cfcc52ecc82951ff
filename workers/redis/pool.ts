import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { RedisPoolConfig } from '../../engine/config/types.ts';
import type { Logger } from '../../engine/log.ts';
import { KeyLocator } from '../../engine/ring/key-locator.ts';
import { RingReader } from '../../engine/shared/ring-memory.ts';
import { VERSION } from '../../engine/version.ts';
import { REDIS_VERSION } from './commands/table.generated.ts';
import type { Keyspace } from './fanout.ts';
import { bulkReply } from './resp/encode.ts';
import { ClientSession } from './session.ts';
import { ShardServer } from './shard/server.ts';
import type { FlushScheduler } from './write-batch.ts';

const EMPTY = Buffer.alloc(0);

/** Where the worker shares its place among all workers, for ids unique across the process. */
export interface WorkerIdentity {
  readonly id: number;
  readonly count: number;
  readonly startedAt: number;
}

/** One Redis pool as one worker serves it: its listener, its client sessions, its shard connections. */
export class RedisPool {
  readonly config: RedisPoolConfig;
  readonly locator: KeyLocator;
  readonly servers: readonly ShardServer[];
  readonly scheduler: FlushScheduler;
  readonly log: Logger;
  readonly #worker: WorkerIdentity;
  readonly #sessions = new Set<ClientSession>();
  #listener: Server | null = null;
  #timeoutSweep: NodeJS.Timeout | null = null;
  #accepted = 0;

  constructor(
    config: RedisPoolConfig,
    ring: SharedArrayBuffer,
    scheduler: FlushScheduler,
    log: Logger,
    worker: WorkerIdentity,
  ) {
    this.config = config;
    this.locator = new KeyLocator(config, new RingReader(ring));
    this.scheduler = scheduler;
    this.log = log.child({ pool: config.name });
    this.#worker = worker;
    this.servers = config.servers.map((s, i) => new ShardServer(config, s, i, scheduler, this.log));
  }

  /** Starts listening (SO_REUSEPORT, so every worker shares the port); false when this worker should not (unix socket, not worker 0). */
  async listen(): Promise<boolean> {
    const listen = this.config.listen;
    if (listen.kind === 'unix' && this.#worker.id !== 0) return false;
    // Half-open: a client that ends its side after its last request still gets the replies.
    const server = createServer({ noDelay: true, allowHalfOpen: true }, this.#onConnection);
    this.#listener = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (listen.kind === 'unix') {
        rmSync(listen.path, { force: true });
        server.listen({ path: listen.path, backlog: this.config.backlog }, resolve);
      } else {
        server.listen(
          { host: listen.host, port: listen.port, backlog: this.config.backlog, reusePort: true },
          resolve,
        );
      }
    });
    if (listen.kind === 'unix' && listen.mode !== undefined) chmodSync(listen.path, listen.mode);
    if (this.config.preconnect) for (const s of this.servers) s.preconnect();
    const timeout = this.config.timeoutMs;
    if (timeout !== null) {
      const sweep = Math.max(5, Math.min(100, timeout / 4));
      this.#timeoutSweep = setInterval(() => {
        const now = performance.now();
        for (const s of this.servers) s.checkTimeouts(now, timeout);
      }, sweep);
      this.#timeoutSweep.unref();
    }
    return true;
  }

  /** A live server for commands any shard can answer: the ring's owner of hash 0. */
  anyServer(): number {
    return this.locator.locate(EMPTY, 0, 0);
  }

  sessionClosed(session: ClientSession): void {
    this.#sessions.delete(session);
  }

  /** INFO: legate's own sections, and the keyspace summed over the shards that answered. */
  infoReply(keyspace: Keyspace): Buffer {
    const lines = [
      '# Server',
      `redis_version:${REDIS_VERSION}`,
      `legate_version:${VERSION}`,
      'redis_mode:standalone',
      `process_id:${process.pid}`,
      `tcp_port:${this.config.listen.kind === 'tcp' ? this.config.listen.port : 0}`,
      `uptime_in_seconds:${Math.floor((Date.now() - this.#worker.startedAt) / 1000)}`,
      `legate_pool:${this.config.name}`,
      `legate_workers:${this.#worker.count}`,
      `legate_shards:${this.servers.length}`,
      '',
      '# Clients',
      `connected_clients:${this.#sessions.size}`,
      '',
      '# Stats',
      `total_connections_received:${this.#accepted}`,
      '',
      '# Keyspace',
      ...[...keyspace].map(([db, v]) => `${db}:keys=${v.keys},expires=${v.expires},avg_ttl=0`),
      '',
    ];
    return bulkReply(lines.join('\r\n'));
  }

  async close(): Promise<void> {
    if (this.#timeoutSweep) clearInterval(this.#timeoutSweep);
    const listener = this.#listener;
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const s of this.#sessions) s.close();
    for (const s of this.servers) s.close();
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#accepted++;
    const id = this.#accepted * this.#worker.count + this.#worker.id;
    this.#sessions.add(new ClientSession(id, this, socket));
  };
}
