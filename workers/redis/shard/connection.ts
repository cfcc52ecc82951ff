import { now, tick } from '../../clock.ts';
import { Fifo, NumberFifo } from '../../fifo.ts';
import type { FlushScheduler } from '../../net/flush-scheduler.ts';
import { type DialAddress, READ_BUFFER, type StreamEvents } from '../../net/stream.ts';
import { type Stream, transport } from '../../net/transport.ts';
import { errorReply } from '../resp/encode.ts';
import { InputBuffer } from '../resp/input-buffer.ts';
import { REPLY_INCOMPLETE, REPLY_MALFORMED, ReplyScanner } from '../resp/reply-scanner.ts';
import { encodeCommand } from '../resp/request-parser.ts';
import { fail, type ReplyWaiter } from './reply-waiter.ts';

/** Why a connection ended, for the server's counters: twemproxy's server_eof, server_err, server_timedout. */
export type LossKind = 'eof' | 'error' | 'timeout' | 'closed';

/** What a connection tells the server it belongs to. */
export interface ConnectionOwner {
  readonly name: string;
  readonly redisAuth: string | null;
  readonly redisDb: number;
  readonly tcpKeepalive: boolean;
  readonly connectTimeoutMs: number;
  connectionReady(conn: ShardConnection): void;
  connectionLost(conn: ShardConnection, reason: string, wasReady: boolean, kind: LossKind): void;
  /** A request went out: its size. */
  requestSent(bytes: number): void;
  /** A reply came back: its bytes, and how long the request waited for it. */
  replyReceived(buf: Buffer, start: number, end: number, micros: number): void;
  /** At least one reply of a read was not a failure reply: the consecutive-failure count resets. */
  repliesHealthy(): void;
  /** The socket took all queued bytes: clients paused on this connection may go on. */
  connectionDrained(conn: ShardConnection): void;
}

/** Checks that a handshake step (AUTH, SELECT) answered +OK; otherwise the connection is useless. */
class HandshakeStep implements ReplyWaiter {
  readonly #conn: ShardConnection;
  readonly #what: string;
  constructor(conn: ShardConnection, what: string) {
    this.#conn = conn;
    this.#what = what;
  }
  complete(buf: Buffer, start: number, end: number): void {
    if (buf[start] !== 43 /* + */) {
      this.#conn.destroy(
        `${this.#what} failed: ${buf.toString('latin1', start + 1, end - 2)}`,
        'error',
      );
    }
  }
}

/**
 * Replies that count as a server failure, as twemproxy counts them: -OOM, -BUSY, -LOADING.
 * The server answers, but it cannot serve, so the reply does not reset the failure count.
 */
export function isFailureReply(buf: Buffer, start: number, end: number): boolean {
  if (buf[start] !== 45 /* - */) return false;
  return (
    startsWith(buf, start + 1, end, OOM) ||
    startsWith(buf, start + 1, end, BUSY) ||
    startsWith(buf, start + 1, end, LOADING)
  );
}

const OOM = Buffer.from('OOM ');
const BUSY = Buffer.from('BUSY ');
const LOADING = Buffer.from('LOADING ');

function startsWith(buf: Buffer, from: number, end: number, prefix: Buffer): boolean {
  if (end - from < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[from + i] !== prefix[i]) return false;
  return true;
}

/**
 * One connection from this worker to one shard. Requests go out as their own bytes, batched per
 * loop turn; replies come back in order and are matched to waiters by a FIFO.
 */
export class ShardConnection implements StreamEvents {
  readonly #owner: ConnectionOwner;
  readonly #stream: Stream;
  #connectTimer: NodeJS.Timeout | null;
  readonly #input = new InputBuffer();
  readonly #scanner = new ReplyScanner();
  readonly #waiters = new Fifo<ReplyWaiter>();
  readonly #sentAt = new NumberFifo();
  /** Sizes of the requests awaiting replies, for twemproxy's in_queue_bytes. */
  readonly #sizes = new NumberFifo();
  #inFlightBytes = 0;
  #ready = false;
  #closed = false;
  /** Reload: the server left the pool; close once the last reply is in. */
  #retiring = false;

  constructor(owner: ConnectionOwner, address: DialAddress, scheduler: FlushScheduler) {
    this.#owner = owner;
    this.#stream = transport.dial(address, this, scheduler);
    this.#connectTimer = setTimeout(this.#connectTimedOut, owner.connectTimeoutMs);
    // Written before any request: the stream holds them until it connects.
    if (owner.redisAuth !== null) {
      this.#enqueue(
        encodeCommand([Buffer.from('AUTH'), Buffer.from(owner.redisAuth)]),
        new HandshakeStep(this, 'AUTH'),
      );
    }
    if (owner.redisDb !== 0) {
      this.#enqueue(
        encodeCommand([Buffer.from('SELECT'), Buffer.from(String(owner.redisDb))]),
        new HandshakeStep(this, 'SELECT'),
      );
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get ready(): boolean {
    return this.#ready && !this.#closed;
  }

  /** Requests waiting for a reply on this connection. */
  get inFlight(): number {
    return this.#waiters.size;
  }

  /** Bytes queued toward the shard that the kernel has not taken yet. */
  get bufferedBytes(): number {
    return this.#stream.writeQueueSize + this.#stream.pendingBytes;
  }

  /** Bytes of the requests awaiting replies. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** Requests queued in this turn's batch, not yet handed to the socket. */
  get queuedRequests(): number {
    return this.#stream.pendingParts;
  }

  /** Queues buf[start, end) (one whole request) and the waiter for its reply. */
  send(buf: Buffer, start: number, end: number, waiter: ReplyWaiter): void {
    this.#stream.pushRange(buf, start, end);
    this.#waiters.push(waiter);
    this.#sentAt.push(now);
    this.#sizes.push(end - start);
    this.#inFlightBytes += end - start;
    this.#owner.requestSent(end - start);
  }

  /** Fails every waiter when the oldest has waited longer than `timeoutMs`. */
  checkTimeout(at: number, timeoutMs: number): void {
    const oldest = this.#sentAt.peek();
    if (at - oldest > timeoutMs) {
      // Still connecting: the connect is what has not answered (the sweep can come before the
      // connect timer when both are `timeout`).
      const what = this.#ready ? 'timed out' : 'connect timed out';
      this.destroy(`${what} after ${timeoutMs} ms`, 'timeout');
    }
  }

  /** Closes now if idle, else once the requests in flight have their replies. */
  retire(): void {
    this.#retiring = true;
    if (this.#waiters.size === 0) this.destroy('server left the pool', 'closed');
  }

  destroy(reason: string, kind: LossKind): void {
    if (this.#closed) return;
    this.#close(reason, kind);
    this.#stream.destroy();
  }

  #enqueue(request: Buffer, waiter: ReplyWaiter): void {
    this.send(request, 0, request.length, waiter);
  }

  streamConnected(): void {
    this.#clearConnectTimer();
    this.#stream.setNoDelay();
    if (this.#owner.tcpKeepalive) this.#stream.setKeepAlive();
    this.#ready = true;
    this.#owner.connectionReady(this);
  }

  readonly #connectTimedOut = (): void => {
    this.#connectTimer = null;
    if (!this.#ready)
      this.destroy(`connect timed out after ${this.#owner.connectTimeoutMs} ms`, 'timeout');
  };

  #clearConnectTimer(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
  }

  streamData(n: number): void {
    const at = tick();
    const owner = this.#owner;
    const input = this.#input;
    input.push(READ_BUFFER, n);
    const buf = input.buf;
    const length = input.length;
    let pos = 0;
    let healthy = false;
    while (pos < length) {
      const end = this.#scanner.scan(buf, pos, length);
      if (end === REPLY_INCOMPLETE) break;
      if (end === REPLY_MALFORMED) {
        this.destroy('malformed reply from shard', 'error');
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter === undefined) {
        this.destroy('reply with no request waiting for it', 'error');
        return;
      }
      const sentAt = this.#sentAt.shift();
      this.#inFlightBytes -= this.#sizes.shift();
      // Whole microseconds: a small integer is passed as is, a fraction would be boxed.
      owner.replyReceived(buf, pos, end, Math.round((at - sentAt) * 1000));
      if (!healthy && !isFailureReply(buf, pos, end)) healthy = true;
      waiter.complete(buf, pos, end);
      pos = end;
    }
    input.consume(pos);
    if (healthy) owner.repliesHealthy();
    if (this.#retiring && this.#waiters.size === 0) this.destroy('server left the pool', 'closed');
  }

  streamDrained(): void {
    this.#owner.connectionDrained(this);
  }

  streamError(message: string): void {
    this.#close(message, 'error');
  }

  streamEnd(): void {
    this.destroy('connection closed by shard', 'eof');
  }

  streamClosed(): void {
    this.#close('connection closed by shard', 'eof');
  }

  #close(reason: string, kind: LossKind): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearConnectTimer();
    const error = errorReply(`ERR shard ${this.#owner.name} ${reason}`);
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) fail(w, error);
    this.#owner.connectionLost(this, reason, this.#ready, kind);
    // Clients paused on this connection's backlog must not wait for a drain that never comes.
    this.#owner.connectionDrained(this);
  }
}
