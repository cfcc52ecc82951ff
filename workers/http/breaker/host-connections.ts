import { Client } from 'undici';
import type { ClusterLimits } from '../../../engine/config/http-types.ts';
import { type BreakerMemory, C, H, UNLIMITED } from '../../../engine/shared/breaker-memory.ts';

/** How long an idle upstream connection is kept. */
const IDLE_MS = 60_000;
/** Pending requests look for a connection freed in another worker this often. */
const PENDING_POLL_MS = 5;
/** While this worker keeps idle connections, it checks this often whether another worker's pending requests need their slots. */
const SHED_POLL_MS = 10;

/** A request waiting for a connection (Envoy's pending request). */
export interface ConnectionWaiter {
  /** Called once with a connection of its own, until it gives it back with `release`. */
  attach(client: Client): void;
}

/**
 * One host's upstream connections in one worker, counted against max_connections in shared
 * memory (cluster and per host): a connection is one undici Client (pipelining 1), counted from
 * its creation until its socket closes. A request that finds no idle connection and may not
 * open one waits as pending (Envoy: upstream_cx_overflow, not a failure).
 */
export class HostConnections {
  readonly host: number;
  readonly #origin: string;
  readonly #mem: BreakerMemory;
  readonly #maxCx: number;
  readonly #maxHostCx: number;
  readonly #maxPending: number;
  readonly #connectTimeoutMs: number;
  readonly #idle: Client[] = [];
  readonly #waiting: ConnectionWaiter[] = [];
  readonly #all = new Set<Client>();
  #poll: NodeJS.Timeout | null = null;
  #shed: NodeJS.Timeout | null = null;
  readonly #limited: boolean;
  #closed = false;

  constructor(
    host: number,
    origin: string,
    mem: BreakerMemory,
    limits: ClusterLimits | null,
    connectTimeoutMs: number,
  ) {
    this.host = host;
    this.#origin = origin;
    this.#mem = mem;
    this.#maxCx = limits?.default.maxConnections ?? UNLIMITED;
    this.#maxHostCx = limits?.perHost.maxConnections ?? UNLIMITED;
    this.#maxPending = limits?.default.maxPendingRequests ?? UNLIMITED;
    this.#limited = limits !== null;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /**
   * Attaches a connection now ('attached'), or queues the waiter ('pending', counted against
   * max_pending_requests), or 'overflow': the pending queue is full.
   */
  acquire(waiter: ConnectionWaiter): 'attached' | 'pending' | 'overflow' {
    const client = this.#idle.pop() ?? this.#open(true);
    if (client !== null) {
      waiter.attach(client);
      return 'attached';
    }
    if (!this.#mem.take(C.PENDING, this.#maxPending)) {
      this.#mem.add(C.PENDING_OVERFLOW, 1);
      return 'overflow';
    }
    this.#waiting.push(waiter);
    if (this.#poll === null) this.#poll = setInterval(this.#retryPending, PENDING_POLL_MS);
    return 'pending';
  }

  /** A waiter that gave up (timeout, client gone) before it got a connection. */
  forget(waiter: ConnectionWaiter): void {
    const i = this.#waiting.indexOf(waiter);
    if (i === -1) return;
    this.#waiting.splice(i, 1);
    this.#mem.give(C.PENDING);
  }

  #attachNext(client: Client): void {
    this.#mem.give(C.PENDING);
    (this.#waiting.shift() as ConnectionWaiter).attach(client);
  }

  /** Gives a connection back: to the next waiter, or idle; `broken` closes it. */
  release(client: Client, broken: boolean): void {
    if (broken || client.closed || client.destroyed) {
      this.#drop(client);
      this.#retryPending();
      return;
    }
    if (this.#waiting.length > 0) this.#attachNext(client);
    else if (this.#closed || this.#othersWait()) this.#drop(client);
    else {
      this.#idle.push(client);
      if (this.#limited && this.#shed === null) {
        this.#shed = setInterval(this.#shedIdle, SHED_POLL_MS);
        this.#shed.unref();
      }
    }
  }

  /**
   * Requests pending in other workers: an idle connection here holds a max_connections slot
   * they need. Envoy lets such a worker open one anyway (so its limit overshoots); legate keeps
   * the limit and closes an idle connection instead.
   */
  #othersWait(): boolean {
    return this.#limited && this.#mem.load(C.PENDING) > this.#waiting.length;
  }

  readonly #shedIdle = (): void => {
    if (this.#idle.length > 0 && this.#othersWait()) this.#drop(this.#idle[0]);
    if (this.#idle.length === 0 && this.#shed !== null) {
      clearInterval(this.#shed);
      this.#shed = null;
    }
  };

  /** A new connection within max_connections, or null; `count`: an overflow is counted (not when polling). */
  #open(count: boolean): Client | null {
    const mem = this.#mem;
    if (!mem.take(C.CX, this.#maxCx)) {
      if (count) mem.add(C.CX_OVERFLOW, 1);
      return null;
    }
    if (!mem.takeHost(this.host, H.CX, this.#maxHostCx)) {
      mem.give(C.CX);
      if (count) mem.add(C.CX_OVERFLOW, 1);
      return null;
    }
    const client = new Client(this.#origin, {
      pipelining: 1,
      connectTimeout: this.#connectTimeoutMs,
      // The router's own timers (route and per-try timeouts) decide; undici's would race them.
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: IDLE_MS,
      keepAliveMaxTimeout: IDLE_MS,
      maxHeaderSize: 64 * 1024,
    });
    this.#all.add(client);
    // A connection is one socket: when it closes, it is gone (undici would reconnect uncounted).
    client.on('disconnect', () => this.#drop(client));
    client.on('connectionError', () => this.#drop(client));
    return client;
  }

  #drop(client: Client): Promise<void> {
    if (!this.#all.delete(client)) return Promise.resolve();
    const i = this.#idle.indexOf(client);
    if (i !== -1) this.#idle.splice(i, 1);
    // The slot is free once the socket is closed, not before: the backend must never see more.
    const release = () => {
      this.#mem.give(C.CX);
      this.#mem.giveHost(this.host, H.CX);
    };
    return client.destroy().then(release, release);
  }

  readonly #retryPending = (): void => {
    while (this.#waiting.length > 0) {
      const client = this.#idle.pop() ?? this.#open(false);
      if (client === null) break;
      this.#attachNext(client);
    }
    if (this.#waiting.length === 0 && this.#poll !== null) {
      clearInterval(this.#poll);
      this.#poll = null;
    }
  };

  /** Open connections of this worker to the host. */
  get open(): number {
    return this.#all.size;
  }

  /**
   * A reload: no new idle connections; requests in flight and pending ones are still served,
   * then each connection closes as it comes back.
   */
  close(): void {
    this.#closed = true;
    for (const c of [...this.#idle]) this.#drop(c);
  }

  /** Shutdown: every connection cut now (requests on them fail), the pending queue given up. */
  async destroy(): Promise<void> {
    this.#closed = true;
    if (this.#poll !== null) clearInterval(this.#poll);
    if (this.#shed !== null) clearInterval(this.#shed);
    this.#poll = null;
    this.#shed = null;
    for (const _ of this.#waiting) this.#mem.give(C.PENDING);
    this.#waiting.length = 0;
    await Promise.all([...this.#all].map((c) => this.#drop(c)));
  }
}
