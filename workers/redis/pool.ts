import { chmodSync, rmSync } from 'node:fs';
import { formatAddress } from '../../engine/config/address.ts';
import type { RedisPoolConfig } from '../../engine/config/types.ts';
import { LegateError } from '../../engine/errors.ts';
import type { Logger } from '../../engine/log.ts';
import type { PoolSnapshot } from '../../engine/metrics/snapshot.ts';
import { KeyLocator } from '../../engine/ring/key-locator.ts';
import { HealthTable } from '../../engine/shared/health-memory.ts';
import { RingReader } from '../../engine/shared/ring-memory.ts';
import type { PoolShared } from '../../engine/supervisor/pool-state.ts';
import { VERSION } from '../../engine/version.ts';
import { tick } from '../clock.ts';
import type { FlushScheduler } from '../net/flush-scheduler.ts';
import { ListenError, listenHint } from '../net/listener.ts';
import type { StreamEvents } from '../net/stream.ts';
import { type Accepted, type ListeningSocket, transport } from '../net/transport.ts';
import { REDIS_VERSION } from './commands/table.generated.ts';
import type { Keyspace } from './fanout.ts';
import { bulkReply, errorReply } from './resp/encode.ts';
import { DEFAULT_LIMITS, type RequestLimits } from './resp/request-parser.ts';
import { ClientSession } from './session.ts';
import { ShardServer } from './shard/server.ts';
import { PoolStats } from './stats.ts';

const EMPTY = Buffer.alloc(0);
/** How long a closing pool lets its last error replies reach the clients before cutting them off. */
const CLOSE_GRACE_MS = 100;
const MAX_CLIENTS = errorReply('ERR max number of clients reached');
/** A refused client's stream: it is told why and closed; nothing it does matters. */
const IGNORE: StreamEvents = {
  streamData() {},
  streamEnd() {},
  streamError() {},
  streamDrained() {},
  streamConnected() {},
  streamClosed() {},
};

/**
 * The bulk limit stays Redis's own (so a length Redis calls invalid gets Redis's words); a
 * request within it but over max_request_bytes is told that limit by name.
 */
/** Why a pool cannot listen, in words a person can act on. */
function listenError(config: RedisPoolConfig, err: ListenError): LegateError {
  const hint = listenHint(err, 'another legate, nutcracker or redis-server');
  return new LegateError(
    'LEGATE_LISTEN',
    `pool ${config.name} cannot listen on ${formatAddress(config.listen)}: ${hint}`,
  );
}

function limitsOf(config: RedisPoolConfig): RequestLimits {
  return { ...DEFAULT_LIMITS, maxRequestBytes: config.maxRequestBytes };
}

/** Where the worker shares its place among all workers, for ids unique across the process. */
export interface WorkerIdentity {
  readonly id: number;
  readonly count: number;
  readonly startedAt: number;
}

/** One Redis pool as one worker serves it: its listener, its client sessions, its shard connections. */
export class RedisPool {
  config: RedisPoolConfig;
  locator: KeyLocator;
  servers: readonly ShardServer[];
  requestLimits: RequestLimits;
  readonly stats = new PoolStats();
  readonly scheduler: FlushScheduler;
  readonly log: Logger;
  readonly #worker: WorkerIdentity;
  readonly #sessions = new Set<ClientSession>();
  readonly #onFailing: (pool: string, server: number, reason: string) => void;
  #clients: Int32Array;
  #listener: ListeningSocket | null = null;
  #timeoutSweep: NodeJS.Timeout | null = null;

  constructor(
    config: RedisPoolConfig,
    shared: PoolShared,
    scheduler: FlushScheduler,
    log: Logger,
    worker: WorkerIdentity,
    onFailing: (pool: string, server: number, reason: string) => void,
  ) {
    this.config = config;
    this.scheduler = scheduler;
    this.log = log.child({ pool: config.name });
    this.#worker = worker;
    this.#onFailing = onFailing;
    this.locator = new KeyLocator(config, new RingReader(shared.ring));
    this.#clients = new Int32Array(shared.clients);
    this.requestLimits = limitsOf(config);
    this.servers = this.#makeServers(config, new HealthTable(shared.health), []);
  }

  /**
   * A reload: the pool keeps its listener and its clients; the ring, limits and servers change.
   * Servers that stay keep their connections; the others close once their replies are in.
   */
  reconfigure(config: RedisPoolConfig, shared: PoolShared): void {
    const old = this.servers;
    this.config = config;
    this.locator = new KeyLocator(config, new RingReader(shared.ring));
    this.#clients = new Int32Array(shared.clients);
    this.requestLimits = limitsOf(config);
    this.servers = this.#makeServers(config, new HealthTable(shared.health), old);
    for (const s of old) if (!this.servers.includes(s)) s.retire();
    this.#startTimeoutSweep();
  }

  #makeServers(
    config: RedisPoolConfig,
    health: HealthTable,
    reusable: readonly ShardServer[],
  ): ShardServer[] {
    const failing = (server: number, reason: string) =>
      this.#onFailing(config.name, server, reason);
    // A server that stays (by name) keeps its numbers even when its connections are replaced.
    const stats = new Map(reusable.map((s) => [s.name, s.stats]));
    return config.servers.map(
      (spec, i) =>
        // Kept only at the same index: health and ring entries are by index.
        (reusable[i]?.sameAs(config, spec, health) ? reusable[i] : undefined) ??
        new ShardServer(
          config,
          spec,
          i,
          this.scheduler,
          this.log,
          health,
          failing,
          stats.get(spec.name),
        ),
    );
  }

  /** Starts listening (SO_REUSEPORT, so every worker shares the port); false when this worker should not (unix socket, not worker 0). */
  async listen(): Promise<boolean> {
    const listen = this.config.listen;
    if (listen.kind === 'unix' && this.#worker.id !== 0) return false;
    if (listen.kind === 'unix') rmSync(listen.path, { force: true });
    try {
      this.#listener = await transport.listen(
        listen.kind === 'unix' ? { path: listen.path } : { host: listen.host, port: listen.port },
        this.config.backlog,
        this.#onConnection,
      );
    } catch (err) {
      throw err instanceof ListenError ? listenError(this.config, err) : err;
    }
    if (listen.kind === 'unix' && listen.mode !== undefined) chmodSync(listen.path, listen.mode);
    if (this.config.preconnect) for (const s of this.servers) s.preconnect();
    this.#startTimeoutSweep();
    return true;
  }

  #startTimeoutSweep(): void {
    if (this.#timeoutSweep) clearInterval(this.#timeoutSweep);
    this.#timeoutSweep = null;
    const timeout = this.config.timeoutMs;
    if (timeout === null) return;
    const every = Math.max(5, Math.min(100, timeout / 4));
    this.#timeoutSweep = setInterval(() => {
      const at = tick();
      for (const s of this.servers) s.checkTimeouts(at, timeout);
    }, every);
    this.#timeoutSweep.unref();
  }

  /** This worker's numbers for the main thread. */
  snapshot(): PoolSnapshot {
    this.stats.counters.client_connections = this.#sessions.size;
    return {
      name: this.config.name,
      counters: this.stats.counters,
      latency: this.stats.encodeLatency(),
      servers: this.servers.map((s) => ({
        name: s.name,
        counters: s.snapshotCounters(),
        latency: s.stats.encodeLatency(),
      })),
    };
  }

  /** A live server for commands any shard can answer: the ring's owner of hash 0. */
  anyServer(): number {
    return this.locator.locate(EMPTY, 0, 0);
  }

  sessionClosed(session: ClientSession): void {
    if (this.#sessions.delete(session)) Atomics.sub(this.#clients, this.#worker.id, 1);
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
      `total_connections_received:${this.stats.counters.client_accepted}`,
      '',
      '# Keyspace',
      ...[...keyspace].map(([db, v]) => `${db}:keys=${v.keys},expires=${v.expires},avg_ttl=0`),
      '',
    ];
    return bulkReply(lines.join('\r\n'));
  }

  /** Stops accepting; clients get the replies they are owed, then are closed; all by `deadline` (ms). */
  async drain(deadline: number): Promise<void> {
    this.stopAccepting();
    for (const s of this.#sessions) s.drain();
    while (this.#sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await this.close();
  }

  /**
   * Shards first: requests still waiting are answered `-ERR shard … legate is shutting down`, and
   * draining sessions end once that is written; after a short grace the rest are cut off.
   */
  async close(): Promise<void> {
    if (this.#timeoutSweep) clearInterval(this.#timeoutSweep);
    this.stopAccepting();
    // Stopped first, so that the failed replies below cannot let a session dispatch anew.
    for (const s of this.#sessions) s.stop();
    for (const s of this.servers) s.close();
    if (this.#sessions.size > 0) await new Promise((r) => setTimeout(r, CLOSE_GRACE_MS));
    for (const s of this.#sessions) s.close();
  }

  /**
   * Closes the listening socket now, freeing its address. Not awaited: `server.close`'s callback
   * waits for every accepted connection to end, which is what draining them is for.
   */
  stopAccepting(): void {
    const listener = this.#listener;
    this.#listener = null;
    listener?.close();
  }

  readonly #onConnection = (handle: Accepted): void => {
    const counters = this.stats.counters;
    const limit = this.config.clientConnections;
    if (limit !== null && this.#openClients() >= limit) {
      // twemproxy ignores client_connections; legate refuses clearly and keeps what it has.
      counters.forward_error++;
      const refused = transport.accept(handle, IGNORE, this.scheduler);
      refused.pause();
      refused.push(MAX_CLIENTS);
      refused.end();
      return;
    }
    counters.client_accepted++;
    Atomics.add(this.#clients, this.#worker.id, 1);
    const id = counters.client_accepted * this.#worker.count + this.#worker.id;
    // Lanes in accept order: this worker's sessions spread evenly over each shard's connections.
    this.#sessions.add(new ClientSession(id, counters.client_accepted, this, handle));
  };

  /** Open clients of this pool across all workers (each counts its own in shared memory). */
  #openClients(): number {
    let n = 0;
    for (let i = 0; i < this.#clients.length; i++) n += Atomics.load(this.#clients, i);
    return n;
  }
}
