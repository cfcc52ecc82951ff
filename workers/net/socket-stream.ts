import { connect, type Socket } from 'node:net';
import type { FlushScheduler } from './flush-scheduler.ts';
import { releaseOut, takeOut } from './out-buffers.ts';
import { READ_BUFFER } from './read-buffer.ts';
import type { DialAddress, StreamEvents } from './stream.ts';

const OPEN = 0;
const CONNECTING = 1;
/** Our side is shut down (or shutting down); closes when that completes. */
const ENDING = 2;
const CLOSED = 3;

/**
 * UvStream's contract on a net.Socket, for when Node's libuv bindings cannot be used
 * (transport.ts): reads are handed to the owner in READ_BUFFER, writes are collected over a turn
 * and written once at its end, events are the same and come in the same order. It
 * costs more per connection and per read (a Buffer per read, copied into READ_BUFFER) than the
 * bare handles, and it depends only on Node's public API.
 */
export class SocketStream {
  readonly #socket: Socket;
  readonly #events: StreamEvents;
  readonly #scheduler: FlushScheduler;
  #state: number;
  #out: Buffer | null = null;
  #pendingBytes = 0;
  #pendingParts = 0;
  #queued = false;
  #asyncWrites = 0;
  #paused = false;
  /** The rest of a read that came while paused (or past READ_BUFFER's size), owed first. */
  #held: Buffer | null = null;
  /** endWrite() was called: reading goes on after our FIN, until the peer's. */
  #halfOpen = false;
  #eofRead = false;
  #shutdownDone = false;

  private constructor(
    socket: Socket,
    events: StreamEvents,
    scheduler: FlushScheduler,
    state: number,
  ) {
    this.#socket = socket;
    this.#events = events;
    this.#scheduler = scheduler;
    this.#state = state;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('end', () => {
      if (this.#state === CLOSED) return;
      this.#eofRead = true;
      this.#events.streamEnd();
      if (this.#halfOpen && this.#shutdownDone) this.destroy();
    });
    socket.on('error', (err) => this.#fail(describe(err)));
    // Once, whether the peer, an error or destroy() closed it.
    socket.on('close', () => {
      this.#state = CLOSED;
      this.#release();
      this.#events.streamClosed();
    });
  }

  /** Takes over an accepted connection (paused, half-open allowed) and starts reading it. */
  static accept(socket: Socket, events: StreamEvents, scheduler: FlushScheduler): SocketStream {
    const stream = new SocketStream(socket, events, scheduler, OPEN);
    socket.resume();
    return stream;
  }

  /** Takes over an accepted connection and leaves it paused (as accepted): resume() reads. */
  static adopt(socket: Socket, events: StreamEvents, scheduler: FlushScheduler): SocketStream {
    return new SocketStream(socket, events, scheduler, OPEN);
  }

  /** Connects to a TCP address (every address of a name, in turn) or a unix socket. */
  static dial(address: DialAddress, events: StreamEvents, scheduler: FlushScheduler): SocketStream {
    const socket =
      'path' in address
        ? connect({ path: address.path, allowHalfOpen: true })
        : connect({ host: address.host, port: address.port, allowHalfOpen: true });
    const stream = new SocketStream(socket, events, scheduler, CONNECTING);
    socket.once('connect', () => stream.#connected());
    return stream;
  }

  #connected(): void {
    if (this.#state !== CONNECTING) return;
    this.#state = OPEN;
    if (this.#paused) this.#socket.pause();
    this.#events.streamConnected();
    if (this.#pendingBytes > 0) this.flush();
  }

  get destroyed(): boolean {
    return this.#state === CLOSED;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  get pendingParts(): number {
    return this.#pendingParts;
  }

  get writeQueueSize(): number {
    return this.#state === CLOSED ? 0 : this.#socket.writableLength;
  }

  setNoDelay(): void {
    this.#socket.setNoDelay(true);
  }

  setKeepAlive(): void {
    this.#socket.setKeepAlive(true, 0);
  }

  peerAddress(): string {
    const s = this.#socket;
    return s.remotePort === undefined ? 'unix:0' : `${s.remoteAddress}:${s.remotePort}`;
  }

  localAddress(): string {
    const s = this.#socket;
    return s.localPort === undefined ? 'unix:0' : `${s.localAddress}:${s.localPort}`;
  }

  /** Reading goes on while open, and after endWrite() until the peer ends. */
  #reading(): boolean {
    return this.#state === OPEN || (this.#halfOpen && this.#state === ENDING);
  }

  pause(): void {
    if (!this.#reading()) return;
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#reading()) return;
    this.#paused = false;
    this.#socket.resume();
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      this.#read(held);
    }
  }

  push(bytes: Buffer): void {
    this.pushRange(bytes, 0, bytes.length);
  }

  /**
   * Queues buf[start, end) for this turn's write, always copied (simpler than the bare handles'
   * write-by-reference of large ranges; this is the fallback).
   */
  pushRange(buf: Buffer, start: number, end: number): void {
    if (this.#state >= ENDING) return;
    const n = end - start;
    let out = this.#out;
    if (out === null) {
      out = takeOut(n);
      this.#out = out;
    } else if (this.#pendingBytes + n > out.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(out.length * 2, this.#pendingBytes + n));
      out.copy(next, 0, 0, this.#pendingBytes);
      releaseOut(out);
      out = next;
      this.#out = next;
    }
    buf.copy(out, this.#pendingBytes, start, end);
    this.#pendingBytes += n;
    this.#pendingParts++;
    if (!this.#queued) {
      this.#queued = true;
      this.#scheduler.queue(this);
    }
  }

  /** As pushRange, then written at once (while connecting, on connect). */
  writeRange(buf: Buffer, start: number, end: number): void {
    if (this.#state >= ENDING) return;
    this.pushRange(buf, start, end);
    this.flush();
  }

  flush(): void {
    this.#queued = false;
    if (this.#pendingBytes === 0 || this.#state === CONNECTING) return;
    const out = this.#out as Buffer;
    const length = this.#pendingBytes;
    this.#out = null;
    this.#pendingBytes = 0;
    this.#pendingParts = 0;
    if (this.#state === CLOSED) {
      releaseOut(out);
      return;
    }
    this.#asyncWrites++;
    // The pooled buffer goes back once the socket is done with it.
    this.#socket.write(out.subarray(0, length), (err) => {
      releaseOut(out);
      this.#written(err);
    });
  }

  #written(err?: Error | null): void {
    this.#asyncWrites--;
    // A failed write also emits 'error', which closes the stream.
    if (this.#state === CLOSED || err) return;
    if (this.#asyncWrites === 0) this.#events.streamDrained();
  }

  /** Writes what is queued, shuts our side down once it is written, then closes. */
  end(): void {
    this.#shutdown(false);
  }

  /**
   * A half-close: writes what is queued, then sends our FIN, and keeps reading; the stream
   * closes itself once the peer has ended too (allowHalfOpen keeps the socket open till then).
   */
  endWrite(): void {
    this.#shutdown(true);
  }

  #shutdown(keepReading: boolean): void {
    if (this.#state !== OPEN) {
      if (this.#state === CONNECTING) this.destroy();
      return;
    }
    this.flush();
    if (this.#state !== OPEN) return;
    this.#state = ENDING;
    this.#halfOpen = keepReading;
    if (!keepReading) this.#socket.pause();
    this.#socket.end(() => {
      this.#shutdownDone = true;
      if (!this.#halfOpen || this.#eofRead) this.destroy();
    });
  }

  destroy(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#release();
    this.#socket.destroy();
  }

  #release(): void {
    if (this.#out !== null) releaseOut(this.#out);
    this.#out = null;
    this.#held = null;
    this.#pendingBytes = 0;
    this.#pendingParts = 0;
  }

  /** Hands `chunk` to the owner through READ_BUFFER, a buffer's worth at a time. */
  #read(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#state !== OPEN && this.#state !== ENDING) return;
      if (this.#paused) {
        // The owner asked for no more until it resumes: keep the rest (it is ours, not reused).
        this.#held = chunk.subarray(at);
        return;
      }
      const n = Math.min(chunk.length - at, READ_BUFFER.length);
      chunk.copy(READ_BUFFER, 0, at, at + n);
      at += n;
      this.#events.streamData(n);
    }
  }

  #fail(message: string): void {
    if (this.#state === CLOSED) return;
    this.#events.streamError(message);
    this.destroy();
  }
}

/** `connect ECONNREFUSED 127.0.0.1:6379`, as the bare handles word it. */
function describe(err: Error): string {
  // A name with several addresses that all failed: Node reports each (autoSelectFamily).
  const errors = (err as Error & { errors?: Error[] }).errors;
  if (err.message === '' && Array.isArray(errors) && errors.length > 0)
    return errors[errors.length - 1].message;
  return err.message;
}
