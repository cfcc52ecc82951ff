import { COUNTER } from '../../engine/shared/tcp-memory.ts';
import { now, tick } from '../clock.ts';
import { READ_BUFFER, type StreamEvents } from '../net/stream.ts';
import { type Accepted, type Stream, transport } from '../net/transport.ts';
import type { BackendView } from './backend.ts';
import { ALL_FULL, NO_SERVER } from './balance/balancer.ts';
import { proxyHeader } from './proxy-header.ts';
import type { TcpService } from './service.ts';

/**
 * Reading one side pauses when the kernel refuses bytes toward the other (libuv queues them), or
 * when this turn's reads queued more than this toward it (a turn may bring several reads):
 * memory per session stays bounded, and a full read the kernel takes at once pauses nothing.
 */
export const HIGH_WATER = 256 * 1024;

/**
 * What a session reads from its client before a server is connected, at most (HAProxy's default
 * buffer size, tune.bufsize): past it the client waits, so a queued session holds little.
 */
export const HOLD_LIMIT = 16 * 1024;

const SNIFFING = 0;
const WAITING = 1;
const QUEUED = 2;
const CONNECTING = 3;
const PIPING = 4;
const DONE = 5;
/** close() was called; the streams are closing. */
const CLOSING = 6;

/**
 * Hooks a protocol-aware session uses (PostgreSQL): what the first packet is, and what the
 * server says. Null for plain TCP.
 */
/** SessionProtocol.firstBytes' answers: connect (the bytes are sent first), hold on for more, or close (the protocol handled it). */
export const CONNECT = 0;
export const NEED_MORE = -1;
export const HANDLED = -2;

export interface SessionProtocol {
  /** The client's first bytes so far: CONNECT, NEED_MORE or HANDLED. */
  firstBytes(session: TcpSession, bytes: Buffer): number;
  /** Bytes from the server (READ_BUFFER[0, n)), before they go to the client. */
  fromServer(session: TcpSession, n: number): void;
  /** The session ended. */
  ended(session: TcpSession): void;
}

/**
 * One connection attempt's stream events, passed on to the session while that stream is the
 * session's server: a failed attempt's late events (its close) must not reach the next attempt.
 */
class ServerLeg implements StreamEvents {
  readonly session: TcpSession;
  stream: Stream | null = null;
  constructor(session: TcpSession) {
    this.session = session;
  }
  streamData(length: number): void {
    if (this.session.server === this.stream) this.session.serverData(length);
  }
  streamEnd(): void {
    if (this.session.server === this.stream) this.session.serverEnd();
  }
  streamError(): void {
    if (this.session.server === this.stream) this.session.serverError();
  }
  streamDrained(): void {
    if (this.session.server === this.stream) this.session.serverDrained();
  }
  streamConnected(): void {
    if (this.session.server === this.stream) this.session.serverConnected();
  }
  streamClosed(): void {
    if (this.session.server === this.stream) this.session.serverClosed();
  }
}

/**
 * One client connection and the server connection it is piped to: pick, connect (with retries),
 * then move bytes both ways with backpressure and half-close, until both sides have ended.
 * Timeouts are checked by the service's sweep, not by a timer per session.
 */
export class TcpSession implements StreamEvents {
  readonly service: TcpService;
  readonly client: Stream;
  readonly backend: BackendView;
  /** The server connection; null before one is dialled and once it has closed. */
  server: Stream | null = null;
  /** Index of the server in the backend; -1 before one is taken. */
  serverIndex = -1;
  state = WAITING;
  /** Connection attempts made on this session. */
  attempts = 0;
  /** When the current step (queue, connect) gives up, in clock ms. */
  deadline = 0;
  lastClient = now;
  lastServer = now;
  clientEof = false;
  serverEof = false;
  #clientPaused = false;
  #serverPaused = false;
  #clientClosed = false;
  /** The client's first bytes, held while a protocol decides where they go. */
  held: Buffer | null = null;
  protocol: SessionProtocol | null;
  /** What the protocol keeps while it reads the session (PostgreSQL: the key scanner). */
  protocolState: unknown = null;
  /** Where the protocol recorded the session (PostgreSQL: its cancel key's slot). */
  protocolSlot = -1;
  #bytesIn = 0;
  #bytesOut = 0;
  /** What of #bytesIn/#bytesOut the counters have already (the sweep adds as it goes). */
  #countedIn = 0;
  #countedOut = 0;

  constructor(
    service: TcpService,
    handle: Accepted,
    backend: BackendView,
    protocol: SessionProtocol | null,
  ) {
    this.service = service;
    this.backend = backend;
    this.protocol = protocol;
    // Reading starts at once, also for plain TCP: a client's first bytes are usually there by
    // the accept, and are then read in the turn that sees the server connect instead of one turn
    // after it. They are held (up to HOLD_LIMIT) until a connection is up, and go to each attempt.
    this.client = transport.accept(handle, this, service.scheduler);
    // Bytes are forwarded as they come: Nagle would only add delay.
    this.client.setNoDelay();
    if (protocol === null) {
      this.dispatch(-1);
    } else {
      // Waiting for the client's first message is client inactivity: `client_timeout` (HAProxy's
      // `timeout client`), not the server-side connect_timeout; none set, no limit.
      this.state = SNIFFING;
      this.deadline = tick() + (service.config.clientTimeoutMs ?? Number.POSITIVE_INFINITY);
    }
  }

  get finished(): boolean {
    return this.state === DONE;
  }

  get piping(): boolean {
    return this.state === PIPING;
  }

  get queued(): boolean {
    return this.state === QUEUED;
  }

  get connecting(): boolean {
    return this.state === CONNECTING;
  }

  get sniffing(): boolean {
    return this.state === SNIFFING;
  }

  /** Takes a server and connects, or queues, or gives up. `avoid`: a server that just failed. */
  dispatch(avoid: number): void {
    if (this.state === DONE || this.#clientClosed) {
      this.close();
      return;
    }
    const picked = this.backend.balancer.pick(avoid, this.backend.balancer.hashOf(this.client));
    if (picked === NO_SERVER) {
      this.service.noServer(this);
      this.close();
      return;
    }
    if (picked === ALL_FULL) {
      if (this.state !== QUEUED) {
        this.state = QUEUED;
        const c = this.backend.config;
        this.deadline = tick() + (c.queueTimeoutMs ?? c.connectTimeoutMs);
        this.backend.wait(this);
      }
      return;
    }
    if (avoid >= 0 && picked !== avoid) this.backend.count(picked, COUNTER.WREDIS, 1);
    this.connect(picked);
  }

  /** A queued session got its turn, or its time in the queue ran out. */
  dequeued(server: number): void {
    if (this.state !== QUEUED) {
      if (server >= 0) this.backend.balancer.release(server);
      return;
    }
    this.state = WAITING;
    if (server < 0) {
      // Out of the queue now: a dead session left there would count in qcur and take a pick.
      this.backend.unwait(this);
      this.service.queueTimeout(this);
      this.close();
    } else this.connect(server);
  }

  connect(server: number): void {
    const ip = this.backend.address(server);
    if (ip === null) {
      this.backend.balancer.release(server);
      this.dispatch(server);
      return;
    }
    this.serverIndex = server;
    this.attempts++;
    this.state = CONNECTING;
    this.deadline = tick() + this.backend.config.connectTimeoutMs;
    const spec = this.backend.config.servers[server];
    const leg = new ServerLeg(this);
    const stream = transport.dial({ host: ip, port: spec.port }, leg, this.service.scheduler);
    leg.stream = stream;
    this.server = stream;
    if (spec.sendProxy !== null)
      stream.push(
        proxyHeader(spec.sendProxy, this.client.peerAddress(), this.client.localAddress()),
      );
    if (this.held !== null) {
      stream.push(this.held);
      this.#bytesIn += this.held.length;
    }
  }

  /** The connect failed or timed out: retry (the same server, the last retry elsewhere), or give up. */
  connectFailed(): void {
    const failed = this.serverIndex;
    const backend = this.backend;
    backend.count(failed, COUNTER.ECON, 1);
    backend.balancer.release(failed);
    this.#bytesIn = 0;
    const old = this.server;
    this.server = null;
    old?.destroy();
    this.serverIndex = -1;
    const c = backend.config;
    if (this.attempts > c.retries) {
      this.service.connectGaveUp(this);
      this.close();
      return;
    }
    backend.count(failed, COUNTER.WRETR, 1);
    this.state = WAITING;
    const last = this.attempts === c.retries;
    if ((last && c.redispatch) || !backend.balancer.take(failed)) this.dispatch(failed);
    else this.connect(failed);
  }

  serverConnected(): void {
    if (this.state !== CONNECTING) return;
    this.state = PIPING;
    this.lastServer = tick();
    this.lastClient = this.lastServer;
    this.held = null;
    this.backend.count(this.serverIndex, COUNTER.STOT, 1);
    this.server?.setNoDelay();
    this.#clientPaused = false;
    this.client.resume();
    if (this.clientEof) this.server?.endWrite();
  }

  // Client side (this object is the client stream's events).

  streamData(n: number): void {
    this.lastClient = tick();
    if (this.state === SNIFFING) {
      this.#sniff(n);
      return;
    }
    const server = this.server;
    if (this.state !== PIPING) {
      this.#hold(n);
      if (server === null) return;
    } else if (server === null) return;
    server.writeRange(READ_BUFFER, 0, n);
    this.#bytesIn += n;
    if (server.writeQueueSize > 0 || server.pendingBytes > HIGH_WATER) {
      this.client.pause();
      this.#clientPaused = true;
    }
  }

  /**
   * Keeps bytes read before a connection is up, for the next attempt should this one fail;
   * past HOLD_LIMIT the client waits (the kernel holds the rest).
   */
  #hold(n: number): void {
    const chunk = Buffer.from(READ_BUFFER.subarray(0, n));
    this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
    if (this.held.length >= HOLD_LIMIT) {
      this.client.pause();
      this.#clientPaused = true;
    }
  }

  #sniff(n: number): void {
    const chunk = Buffer.from(READ_BUFFER.subarray(0, n));
    const bytes = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
    this.held = bytes;
    const decided = (this.protocol as SessionProtocol).firstBytes(this, bytes);
    if (decided === NEED_MORE || this.state !== SNIFFING) return;
    if (decided === HANDLED) {
      // The protocol took care of it (a CancelRequest forwarded): nothing to connect.
      this.held = null;
      this.close();
      return;
    }
    this.client.pause();
    this.state = WAITING;
    this.dispatch(-1);
  }

  streamEnd(): void {
    this.clientEof = true;
    if (this.state === PIPING) this.server?.endWrite();
    // Waiting or queued for a server, the client's bytes still go (HAProxy keeps such a
    // connection); a protocol still reading the first message has nothing to send.
    else if (this.state === SNIFFING || this.state >= DONE) this.close();
  }

  streamError(_message: string): void {
    this.#clientClosed = true;
    this.close();
  }

  streamDrained(): void {
    if (this.#serverPaused) {
      this.#serverPaused = false;
      this.server?.resume();
    }
  }

  streamConnected(): void {}

  streamClosed(): void {
    this.#clientClosed = true;
    this.#finishIfClosed();
  }

  // Server side (through ServerLeg).

  serverData(n: number): void {
    this.lastServer = tick();
    this.protocol?.fromServer(this, n);
    const client = this.client;
    client.writeRange(READ_BUFFER, 0, n);
    this.#bytesOut += n;
    if (client.writeQueueSize > 0 || client.pendingBytes > HIGH_WATER) {
      this.server?.pause();
      this.#serverPaused = true;
    }
  }

  serverEnd(): void {
    this.serverEof = true;
    this.client.endWrite();
  }

  serverError(): void {
    if (this.state === CONNECTING) {
      this.connectFailed();
      return;
    }
    this.close();
  }

  serverDrained(): void {
    if (this.#clientPaused) {
      this.#clientPaused = false;
      this.client.resume();
    }
  }

  serverClosed(): void {
    this.server = null;
    if (!this.#clientClosed) {
      // The server is gone and the client has nothing more coming from it.
      if (this.serverEof) this.client.endWrite();
      else this.client.destroy();
    }
    this.#finishIfClosed();
  }

  /** Closes both sides now. */
  close(): void {
    if (this.state === QUEUED) this.backend.unwait(this);
    if (this.state !== DONE) this.state = CLOSING;
    this.client.destroy();
    // The server's close event finishes the session; without one, finish now.
    this.server?.destroy();
    this.#finishIfClosed();
  }

  /** Both sides are closed: the slot goes back, the counters are added, the service forgets it. */
  #finishIfClosed(): void {
    if (!this.#clientClosed || this.server !== null || this.state === DONE) return;
    this.state = DONE;
    if (this.serverIndex >= 0) {
      this.countBytes();
      this.backend.balancer.release(this.serverIndex);
      this.serverIndex = -1;
    }
    this.protocol?.ended(this);
    this.service.sessionEnded(this);
  }

  /**
   * Adds the bytes moved since the last call to the server's and the service's counters: at the
   * end, and from the sweep while piping, so a long session's bytes show as they flow.
   */
  countBytes(): void {
    const dIn = this.#bytesIn - this.#countedIn;
    const dOut = this.#bytesOut - this.#countedOut;
    if (dIn === 0 && dOut === 0) return;
    this.#countedIn = this.#bytesIn;
    this.#countedOut = this.#bytesOut;
    this.backend.count(this.serverIndex, COUNTER.BIN, dIn);
    this.backend.count(this.serverIndex, COUNTER.BOUT, dOut);
    this.service.countBytes(dIn, dOut);
  }

  /** Sweep: timeouts. `t` is the clock now. */
  checkTimeouts(t: number): void {
    const state = this.state;
    if (state === CONNECTING || state === SNIFFING) {
      if (t < this.deadline) return;
      if (state === SNIFFING) this.close();
      else this.connectFailed();
      return;
    }
    if (state === QUEUED) {
      if (t >= this.deadline) this.dequeued(-1);
      return;
    }
    if (state !== PIPING) return;
    const b = this.backend.config;
    const s = this.service.config;
    const halfClosed = this.clientEof || this.serverEof;
    const tunnel = b.tunnelTimeoutMs;
    const client = halfClosed
      ? (s.clientFinTimeoutMs ?? tunnel ?? s.clientTimeoutMs)
      : (tunnel ?? s.clientTimeoutMs);
    const server = tunnel ?? b.serverTimeoutMs;
    const last = Math.max(this.lastClient, this.lastServer);
    if ((client !== null && t - last >= client) || (server !== null && t - last >= server))
      this.close();
  }
}
