import { formatAddress } from '../../engine/config/address.ts';
import type { TcpServiceConfig } from '../../engine/config/tcp-types.ts';
import { LegateError } from '../../engine/errors.ts';
import type { Logger } from '../../engine/log.ts';
import { ServiceMemory } from '../../engine/shared/tcp-memory.ts';
import { tick } from '../clock.ts';
import type { FlushScheduler } from '../net/flush-scheduler.ts';
import { ListenError, listenHint } from '../net/listener.ts';
import { type Accepted, type ListeningSocket, transport } from '../net/transport.ts';
import type { BackendView } from './backend.ts';
import { PostgresProtocol } from './postgres/protocol.ts';
import { type SessionProtocol, TcpSession } from './session.ts';

/** The sweep runs at least this often, and at most every 10 ms. */
const SWEEP_MAX_MS = 250;

function listenError(config: TcpServiceConfig, address: string, err: ListenError): LegateError {
  const hint = listenHint(err, 'another legate or HAProxy');
  return new LegateError(
    'LEGATE_LISTEN',
    `service ${config.name} cannot listen on ${address}: ${hint}`,
  );
}

/** Where the worker sits among all workers. */
export interface TcpWorkerContext {
  readonly id: number;
  readonly count: number;
  readonly scheduler: FlushScheduler;
  readonly log: Logger;
}

/**
 * One TCP service as one worker serves it: its listeners (SO_REUSEPORT, so every worker accepts
 * on the same port), its sessions, and the sweep that enforces their timeouts and closes
 * sessions of servers marked down when the backend says so.
 */
export class TcpService {
  config: TcpServiceConfig;
  backend: BackendView;
  readonly scheduler: FlushScheduler;
  readonly log: Logger;
  readonly #worker: TcpWorkerContext;
  #memory: ServiceMemory;
  readonly #sessions = new Set<TcpSession>();
  #listeners: ListeningSocket[] = [];
  #sweep: NodeJS.Timeout | null = null;
  #protocol: SessionProtocol | null;

  constructor(
    config: TcpServiceConfig,
    backend: BackendView,
    memory: SharedArrayBuffer,
    worker: TcpWorkerContext,
  ) {
    this.config = config;
    this.backend = backend;
    this.scheduler = worker.scheduler;
    this.log = worker.log.child({ service: config.name });
    this.#worker = worker;
    this.#memory = new ServiceMemory(memory, worker.count);
    this.#protocol = backend.config.postgres ? new PostgresProtocol(this.log) : null;
  }

  get name(): string {
    return this.config.name;
  }

  /** A reload that keeps the listen addresses: new sessions use the new backend; open ones keep theirs. */
  reconfigure(config: TcpServiceConfig, backend: BackendView, memory: SharedArrayBuffer): void {
    this.config = config;
    this.backend = backend;
    this.#memory = new ServiceMemory(memory, this.#worker.count);
    this.#protocol = backend.config.postgres ? new PostgresProtocol(this.log) : null;
    this.#startSweep();
  }

  async listen(): Promise<boolean> {
    for (const address of this.config.listen) {
      const where = formatAddress(address);
      if (address.kind !== 'tcp')
        throw new LegateError(
          'LEGATE_LISTEN',
          `service ${this.config.name}: ${where}: TCP services listen on host:port`,
        );
      try {
        this.#listeners.push(
          await transport.listen(
            { host: address.host, port: address.port },
            511,
            this.#onConnection,
          ),
        );
      } catch (err) {
        throw err instanceof ListenError ? listenError(this.config, where, err) : err;
      }
    }
    this.#startSweep();
    return true;
  }

  #startSweep(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    const b = this.backend.config;
    const s = this.config;
    const times = [
      b.connectTimeoutMs,
      b.queueTimeoutMs,
      b.serverTimeoutMs,
      b.tunnelTimeoutMs,
      s.clientTimeoutMs,
      s.clientFinTimeoutMs,
    ].filter((t): t is number => t !== null);
    const every = Math.max(10, Math.min(SWEEP_MAX_MS, ...times.map((t) => t / 4)));
    this.#sweep = setInterval(() => this.#sweepSessions(), every);
    this.#sweep.unref();
  }

  #sweepSessions(): void {
    const t = tick();
    const closeDown = this.backend.config.shutdownSessionsOnDown;
    for (const session of this.#sessions) {
      if (session.piping) session.countBytes();
      session.checkTimeouts(t);
      if (
        closeDown &&
        session.piping &&
        session.serverIndex >= 0 &&
        session.backend.balancer.isDown(session.serverIndex)
      ) {
        session.close();
      }
    }
  }

  readonly #onConnection = (handle: Accepted): void => {
    const limit = this.config.maxconn ?? 0;
    if (!this.#memory.enter(this.#worker.id, limit)) {
      // Over the service's maxconn (all workers together): HAProxy leaves such connections in
      // the kernel's backlog; legate has already accepted it, so it closes it at once.
      transport.refuse(handle);
      return;
    }
    const session = new TcpSession(this, handle, this.backend, this.#protocol);
    if (!session.finished) this.#sessions.add(session);
  };

  sessionEnded(session: TcpSession): void {
    this.#sessions.delete(session);
    this.#memory.leave(this.#worker.id);
    session.backend.serveQueue();
  }

  countBytes(fromClient: number, toClient: number): void {
    this.#memory.bytes(this.#worker.id, fromClient, toClient);
  }

  noServer(session: TcpSession): void {
    this.log.debug(
      { client: session.client.peerAddress() },
      'no server available for a session; closing it',
    );
  }

  connectGaveUp(session: TcpSession): void {
    this.log.debug(
      { attempts: session.attempts },
      'could not connect to a server; closing the session',
    );
  }

  queueTimeout(_session: TcpSession): void {
    this.log.debug('a session waited in the queue past its timeout; closing it');
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  stopAccepting(): void {
    for (const l of this.#listeners) l.close();
    this.#listeners = [];
  }

  /** Stops accepting; open sessions finish by themselves until `deadline` (Unix ms), then are closed. */
  async drain(deadline: number): Promise<void> {
    this.stopAccepting();
    while (this.#sessions.size > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await this.close();
  }

  async close(): Promise<void> {
    this.stopAccepting();
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = null;
    for (const s of [...this.#sessions]) s.close();
    if (this.#sessions.size > 0) await new Promise((r) => setTimeout(r, 50));
  }
}
