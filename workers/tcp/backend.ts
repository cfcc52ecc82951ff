import type { TcpBackendConfig } from '../../engine/config/tcp-types.ts';
import { CancelKeys } from '../../engine/shared/cancel-keys.ts';
import { BackendMemory } from '../../engine/shared/tcp-memory.ts';
import type { TcpBackendShared } from '../../engine/supervisor/protocol.ts';
import { ALL_FULL, Balancer, NO_SERVER } from './balance/balancer.ts';
import type { TcpSession } from './session.ts';

/** How often a worker with queued sessions looks for slots freed by other workers. */
const QUEUE_POLL_MS = 5;

/**
 * One backend as one worker sees it: the balancer over shared memory, the server addresses
 * (cached by their version), this worker's queue of sessions waiting for a slot, and the
 * PostgreSQL cancel keys.
 */
export class BackendView {
  readonly config: TcpBackendConfig;
  readonly memory: BackendMemory;
  readonly balancer: Balancer;
  readonly cancelKeys: CancelKeys | null;
  readonly #worker: number;
  readonly #addressVersion: Int32Array;
  readonly #addresses: (string | null)[];
  readonly #waiting: TcpSession[] = [];
  #poll: NodeJS.Timeout | null = null;

  constructor(config: TcpBackendConfig, shared: TcpBackendShared, workers: number, worker: number) {
    this.config = config;
    this.#worker = worker;
    this.memory = new BackendMemory(shared.memory, config.servers.length, workers);
    this.balancer = new Balancer(config, this.memory, worker);
    this.cancelKeys = shared.cancelKeys === null ? null : new CancelKeys(shared.cancelKeys);
    this.#addressVersion = new Int32Array(config.servers.length).fill(-1);
    this.#addresses = config.servers.map(() => null);
  }

  /** The IP to dial for server `s` now; null when it has none (unresolved). */
  address(s: number): string | null {
    const v = this.memory.addressVersion(s);
    if (v !== this.#addressVersion[s]) {
      this.#addresses[s] = this.memory.address(s);
      this.#addressVersion[s] = v;
    }
    return this.#addresses[s];
  }

  count(s: number, which: number, n: number): void {
    this.memory.count(this.#worker, s, which, n);
  }

  /** Queues a session until a server has a slot (sessionEnded or the poll gives it one). */
  wait(session: TcpSession): void {
    this.#waiting.push(session);
    this.memory.enqueue(this.#worker);
    if (this.#poll === null) {
      this.#poll = setInterval(() => this.serveQueue(), QUEUE_POLL_MS);
      this.#poll.unref();
    }
  }

  unwait(session: TcpSession): void {
    const i = this.#waiting.indexOf(session);
    if (i < 0) return;
    this.#waiting.splice(i, 1);
    this.memory.dequeue(this.#worker);
    this.#stopPollIfEmpty();
  }

  /**
   * Gives freed slots to queued sessions, oldest first. Under `source` each session waits for
   * its own server, so one whose server is still full is passed over, not waited behind (HAProxy
   * queues it on that server); the other algorithms would give every session the same answer.
   */
  serveQueue(): void {
    const waiting = this.#waiting;
    const source = this.config.balance === 'source';
    if (this.balancer.allFull()) {
      this.#stopPollIfEmpty();
      return;
    }
    let i = 0;
    while (i < waiting.length) {
      const session = waiting[i];
      const picked = this.balancer.pick(-1, this.balancer.hashOf(session.client));
      if (picked === ALL_FULL) {
        if (!source) break;
        i++;
        continue;
      }
      waiting.splice(i, 1);
      this.memory.dequeue(this.#worker);
      if (picked === NO_SERVER) {
        session.dispatch(-1);
        continue;
      }
      session.dequeued(picked);
    }
    this.#stopPollIfEmpty();
  }

  #stopPollIfEmpty(): void {
    if (this.#waiting.length === 0 && this.#poll !== null) {
      clearInterval(this.#poll);
      this.#poll = null;
    }
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}
