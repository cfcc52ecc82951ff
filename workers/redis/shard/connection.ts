import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Fifo } from '../../fifo.ts';
import { errorReply } from '../resp/encode.ts';
import { InputBuffer } from '../resp/input-buffer.ts';
import { REPLY_INCOMPLETE, REPLY_MALFORMED, ReplyScanner } from '../resp/reply-scanner.ts';
import { encodeCommand } from '../resp/request-parser.ts';
import type { FlushScheduler } from '../write-batch.ts';
import { WriteBatch } from '../write-batch.ts';
import { fail, type ReplyWaiter } from './reply-waiter.ts';

/** What a connection tells the server it belongs to. */
export interface ConnectionOwner {
  readonly name: string;
  readonly redisAuth: string | null;
  readonly redisDb: number;
  readonly tcpKeepalive: boolean;
  readonly connectTimeoutMs: number;
  connectionReady(conn: ShardConnection): void;
  connectionLost(conn: ShardConnection, reason: string, wasReady: boolean): void;
  /** A reply arrived: `isError` when it is an error reply, for failure counting. */
  replyReceived(buf: Buffer, start: number, end: number): void;
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
      this.#conn.destroy(`${this.#what} failed: ${buf.toString('latin1', start + 1, end - 2)}`);
    }
  }
}

/**
 * One connection from this worker to one shard. Requests go out as their own bytes, batched per
 * loop turn; replies come back in order and are matched to waiters by a FIFO.
 */
export class ShardConnection {
  readonly #owner: ConnectionOwner;
  readonly #socket: Socket;
  readonly #batch: WriteBatch;
  readonly #input = new InputBuffer();
  readonly #scanner = new ReplyScanner();
  readonly #waiters = new Fifo<ReplyWaiter>();
  readonly #sentAt = new Fifo<number>();
  #ready = false;
  #closed = false;

  constructor(
    owner: ConnectionOwner,
    address: { host: string; port: number } | { path: string },
    scheduler: FlushScheduler,
  ) {
    this.#owner = owner;
    const socket = connect(address);
    this.#socket = socket;
    this.#batch = new WriteBatch(socket, scheduler);
    socket.setNoDelay(true);
    if (owner.tcpKeepalive) socket.setKeepAlive(true);
    socket.setTimeout(owner.connectTimeoutMs);
    socket.on('connect', this.#onConnect);
    socket.on('timeout', this.#onConnectTimeout);
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    // Written before any request: Node queues them until the socket connects.
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

  /** Requests waiting for a reply on this connection. */
  get inFlight(): number {
    return this.#waiters.size;
  }

  /** Bytes queued toward the shard that the kernel has not taken yet. */
  get bufferedBytes(): number {
    return this.#socket.writableLength + this.#batch.pendingBytes;
  }

  /** Queues buf[start, end) (one or more whole requests) and the waiter for its reply. */
  send(buf: Buffer, start: number, end: number, waiter: ReplyWaiter): void {
    this.#batch.pushRange(buf, start, end);
    this.#waiters.push(waiter);
    this.#sentAt.push(performance.now());
  }

  /** Fails the oldest waiters when the oldest has waited longer than `timeoutMs`. */
  checkTimeout(now: number, timeoutMs: number): void {
    const oldest = this.#sentAt.peek();
    if (oldest !== undefined && now - oldest > timeoutMs)
      this.destroy(`timed out after ${timeoutMs} ms`);
  }

  destroy(reason: string): void {
    if (this.#closed) return;
    this.#close(reason);
    this.#socket.destroy();
  }

  #enqueue(request: Buffer, waiter: ReplyWaiter): void {
    this.send(request, 0, request.length, waiter);
  }

  readonly #onConnect = (): void => {
    this.#socket.setTimeout(0);
    this.#ready = true;
    this.#owner.connectionReady(this);
  };

  readonly #onConnectTimeout = (): void => {
    if (!this.#ready) this.destroy(`connect timed out after ${this.#owner.connectTimeoutMs} ms`);
  };

  readonly #onData = (chunk: Buffer): void => {
    const input = this.#input;
    input.push(chunk);
    const buf = input.buf;
    const length = input.length;
    let pos = 0;
    while (pos < length) {
      const end = this.#scanner.scan(buf, pos, length);
      if (end === REPLY_INCOMPLETE) break;
      if (end === REPLY_MALFORMED) {
        this.destroy('malformed reply from shard');
        return;
      }
      const waiter = this.#waiters.shift();
      this.#sentAt.shift();
      if (waiter === undefined) {
        this.destroy('reply with no request waiting for it');
        return;
      }
      this.#owner.replyReceived(buf, pos, end);
      waiter.complete(buf, pos, end);
      pos = end;
    }
    input.consume(pos);
  };

  readonly #onError = (err: Error): void => {
    this.#close(err.message);
  };

  readonly #onClose = (): void => {
    this.#close('connection closed by shard');
  };

  #close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = errorReply(`ERR shard ${this.#owner.name} ${reason}`);
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) fail(w, error);
    this.#owner.connectionLost(this, reason, this.#ready);
  }
}
