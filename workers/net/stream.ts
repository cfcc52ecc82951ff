import { type LookupAddress, lookup } from 'node:dns';
import { isIP } from 'node:net';
import type { FlushScheduler } from './flush-scheduler.ts';
import { releaseOut, takeOut } from './out-buffers.ts';
import { READ_BUFFER } from './read-buffer.ts';
import {
  type ConnectReq,
  errnoName,
  K_ASYNC,
  K_READ,
  PIPE_SOCKET,
  Pipe,
  PipeConnectWrap,
  ShutdownWrap,
  type SockAddr,
  streamState,
  TCP,
  TCP_SOCKET,
  TCPConnectWrap,
  UV_EOF,
  type UvHandle,
  type UvTcpHandle,
  type WriteReq,
  WriteWrap,
} from './uv.ts';

export { READ_BUFFER };

/** Past this a range of a stable buffer is written by reference (writev) rather than copied. */
const COPY_LIMIT = 16 * 1024;

/** What a stream tells its owner (a client session, a shard connection). */
export interface StreamEvents {
  /** READ_BUFFER[0, length) was read; valid only during this call. */
  streamData(length: number): void;
  /** The peer closed its side (FIN); writing may go on. */
  streamEnd(): void;
  /** A read, write or connect failed; the stream is being closed. */
  streamError(message: string): void;
  /** Everything written so far is with the kernel (after each flush that leaves nothing waiting). */
  streamDrained(): void;
  /** An outgoing connection is established. */
  streamConnected(): void;
  /** The handle is closed; nothing more comes. */
  streamClosed(): void;
}

export type DialAddress = { host: string; port: number } | { path: string };

const OPEN = 0;
const CONNECTING = 1;
/** Our side is shut down (or shutting down); closes when that completes. */
const ENDING = 2;
const CLOSED = 3;

/**
 * One connection on a bare libuv handle: reads go to the owner's `streamData`; writes are
 * collected over an event-loop turn and written once at its end (DESIGN.md: writing once per
 * turn rather than per request is what makes pipelining pay). Hot path: a sync write allocates
 * nothing but the view of the bytes written.
 */
export class UvStream {
  #handle: UvHandle;
  readonly #events: StreamEvents;
  readonly #scheduler: FlushScheduler;
  #state = OPEN;
  // This turn's output: bytes copied into #out, and (only once a large range came) #parts,
  // the earlier output as views followed by the large ranges themselves.
  #out: Buffer | null = null;
  #outStart = 0;
  #outLen = 0;
  #parts: Uint8Array[] | null = null;
  #pendingBytes = 0;
  #pendingParts = 0;
  #queued = false;
  /** Writes handed to libuv that it has not finished. */
  #asyncWrites = 0;
  /** endWrite() was called: reading goes on after our FIN, until the peer's. */
  #halfOpen = false;
  #eofRead = false;
  #shutdownDone = false;

  constructor(handle: UvHandle, events: StreamEvents, scheduler: FlushScheduler, state = OPEN) {
    this.#handle = handle;
    this.#events = events;
    this.#scheduler = scheduler;
    this.#state = state;
    this.#adopt(handle);
  }

  #adopt(handle: UvHandle): void {
    this.#handle = handle;
    handle.stream = this;
    handle.onread = onRead;
    handle.useUserBuffer(READ_BUFFER);
  }

  /** Takes over an accepted connection and starts reading it. */
  static accept(handle: UvHandle, events: StreamEvents, scheduler: FlushScheduler): UvStream {
    const stream = new UvStream(handle, events, scheduler);
    handle.readStart();
    return stream;
  }

  /** Connects to a TCP address (names resolved first) or a unix socket; writes wait for it. */
  static dial(address: DialAddress, events: StreamEvents, scheduler: FlushScheduler): UvStream {
    if ('path' in address) {
      const handle = new Pipe(PIPE_SOCKET);
      const stream = new UvStream(handle, events, scheduler, CONNECTING);
      const req = new PipeConnectWrap();
      req.owner = stream;
      req.address = address.path;
      req.oncomplete = afterConnect;
      stream.#connectStarted(handle.connect(req, address.path), req);
      return stream;
    }
    const stream = new UvStream(new TCP(TCP_SOCKET), events, scheduler, CONNECTING);
    const family = isIP(address.host);
    if (family !== 0) {
      stream.#connectTcp([{ address: address.host, family }], 0, address.port);
    } else {
      // Every address of the name, in the resolver's order: `localhost` may give ::1 first to a
      // Redis that listens on 127.0.0.1 only (net.connect's autoSelectFamily does the same).
      lookup(address.host, { all: true }, (err, found) => {
        if (stream.#state !== CONNECTING) return;
        if (err) stream.#fail(`getaddrinfo ${err.code ?? err.message} ${address.host}`);
        else stream.#connectTcp(found, 0, address.port);
      });
    }
    return stream;
  }

  #connectTcp(candidates: readonly LookupAddress[], index: number, port: number): void {
    const { address: ip, family } = candidates[index];
    const req = new TCPConnectWrap();
    req.owner = this;
    req.address = ip;
    req.port = port;
    req.candidates = candidates;
    req.index = index;
    req.oncomplete = afterConnect;
    const handle = this.#handle as UvTcpHandle;
    const err = family === 6 ? handle.connect6(req, ip, port) : handle.connect(req, ip, port);
    this.#connectStarted(err, req);
  }

  #connectStarted(err: number, req: ConnectReq): void {
    // Reported on the next tick, as a failed connect: the owner is still being constructed.
    if (err < 0) process.nextTick(() => this.connected(err, req));
  }

  /** Called by afterConnect. */
  connected(status: number, req: ConnectReq): void {
    if (this.#state !== CONNECTING) return;
    if (status < 0) {
      const next = (req.index ?? 0) + 1;
      if (req.candidates !== undefined && next < req.candidates.length) {
        // The next address, on a fresh socket (the failed one may be of the other family).
        this.#handle.close();
        this.#adopt(new TCP(TCP_SOCKET));
        this.#connectTcp(req.candidates, next, req.port ?? 0);
        return;
      }
      const where = req.port === undefined ? req.address : `${req.address}:${req.port}`;
      this.#fail(`connect ${errnoName(status)} ${where}`);
      return;
    }
    this.#state = OPEN;
    this.#handle.readStart();
    this.#events.streamConnected();
    if (this.#pendingBytes > 0) this.flush();
  }

  get destroyed(): boolean {
    return this.#state === CLOSED;
  }

  /** Bytes collected this turn, not yet written. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Ranges (whole requests or replies) collected this turn, not yet written. */
  get pendingParts(): number {
    return this.#pendingParts;
  }

  /** Bytes written but not yet taken by the kernel (the peer is not reading fast enough). */
  get writeQueueSize(): number {
    // Asked after every request; with no write pending in libuv its queue is empty, and the
    // answer needs no call into the binding.
    return this.#state === CLOSED || this.#asyncWrites === 0 ? 0 : this.#handle.writeQueueSize;
  }

  setNoDelay(): void {
    this.#handle.setNoDelay?.(true);
  }

  setKeepAlive(): void {
    // 0: the system's idle time, as twemproxy's tcpkeepalive leaves it.
    this.#handle.setKeepAlive?.(true, 0);
  }

  /** `host:port` of the peer, or `unix:0` for a unix socket. */
  peerAddress(): string {
    return this.#address(this.#handle.getpeername);
  }

  /** `host:port` of this end (the address the peer connected to), or `unix:0`. */
  localAddress(): string {
    return this.#address(this.#handle.getsockname);
  }

  #address(get: ((out: SockAddr) => number) | undefined): string {
    const out: SockAddr = {};
    if (this.#state === CLOSED || get === undefined || get.call(this.#handle, out) < 0)
      return 'unix:0';
    return `${out.address}:${out.port}`;
  }

  pause(): void {
    if (this.#state === OPEN || (this.#halfOpen && this.#state === ENDING)) this.#handle.readStop();
  }

  resume(): void {
    if (this.#state === OPEN || (this.#halfOpen && this.#state === ENDING))
      this.#handle.readStart();
  }

  push(bytes: Buffer): void {
    this.pushRange(bytes, 0, bytes.length);
  }

  /**
   * Queues buf[start, end) for this turn's write. Copied, unless large and not READ_BUFFER: any
   * other buffer handed here must not change afterwards (legate's input buffers never do).
   */
  pushRange(buf: Buffer, start: number, end: number): void {
    // After end() or destroy() nothing more can go out (the FIN is sent or the socket gone).
    if (this.#state >= ENDING) return;
    this.#collect(buf, start, end);
    if (!this.#queued) {
      this.#queued = true;
      this.#scheduler.queue(this);
    }
  }

  /**
   * Writes buf[start, end) now, after what this turn collected (before the connection is up,
   * collects it for then). For a pipe whose bytes come one read at a time (a TCP proxy), where
   * waiting for the turn's end would only delay them: the server starts on them while this
   * thread reads the other ready sockets.
   */
  writeRange(buf: Buffer, start: number, end: number): void {
    if (this.#state >= ENDING) return;
    this.#collect(buf, start, end);
    // While connecting, connected() writes what was collected.
    if (this.#state === OPEN) this.flush();
  }

  #collect(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n > COPY_LIMIT && buf !== READ_BUFFER) {
      const parts = this.#parts ?? [];
      this.#parts = parts;
      if (this.#out !== null && this.#outLen > this.#outStart) {
        parts.push(this.#out.subarray(this.#outStart, this.#outLen));
        this.#outStart = this.#outLen;
      }
      parts.push(buf.subarray(start, end));
    } else {
      let out = this.#out;
      if (out === null) {
        out = takeOut(n);
        this.#out = out;
      } else if (this.#outLen + n > out.length) {
        out = this.#grow(n);
      }
      buf.copy(out, this.#outLen, start, end);
      this.#outLen += n;
    }
    this.#pendingBytes += n;
    this.#pendingParts++;
  }

  /**
   * A larger buffer for this turn, with room for what #out holds and `n` more bytes. What #out
   * holds is copied over, or, once views of it are in #parts, left there and written from it.
   */
  #grow(n: number): Buffer {
    const old = this.#out as Buffer;
    const next = Buffer.allocUnsafeSlow(Math.max(old.length * 2, this.#outLen + n));
    if (this.#parts === null) {
      old.copy(next, 0, 0, this.#outLen);
      releaseOut(old);
    } else {
      if (this.#outLen > this.#outStart)
        this.#parts.push(old.subarray(this.#outStart, this.#outLen));
      this.#outLen = 0;
      this.#outStart = 0;
    }
    this.#out = next;
    return next;
  }

  /** Writes what this turn collected. Called by the scheduler once per turn. */
  flush(): void {
    this.#queued = false;
    if (this.#pendingBytes === 0 || this.#state === CONNECTING) return;
    const out = this.#out;
    const parts = this.#parts;
    const outStart = this.#outStart;
    const outLen = this.#outLen;
    this.#out = null;
    this.#parts = null;
    this.#outStart = 0;
    this.#outLen = 0;
    this.#pendingBytes = 0;
    this.#pendingParts = 0;
    if (this.#state === CLOSED) {
      if (out !== null) releaseOut(out);
      return;
    }
    const req = spareReq ?? new WriteWrap();
    let err: number;
    if (parts === null) {
      err = this.#handle.writeBuffer(req, (out as Buffer).subarray(0, outLen));
    } else {
      if (out !== null && outLen > outStart) parts.push(out.subarray(outStart, outLen));
      err = this.#handle.writev(req, parts, true);
    }
    if (err < 0) {
      if (out !== null) releaseOut(out);
      this.#fail(`write ${errnoName(err)}`);
      return;
    }
    if (streamState[K_ASYNC] === 0) {
      if (out !== null) releaseOut(out);
      spareReq = req;
      // Everything is with the kernel: whoever paused on this stream's backlog may go on.
      if (this.#asyncWrites === 0) this.#events.streamDrained();
      return;
    }
    // libuv holds the bytes until the kernel takes them: they (and the request) stay alive.
    spareReq = null;
    req.owner = this;
    req.out = out;
    req.parts = parts;
    req.oncomplete = afterWrite;
    this.#asyncWrites++;
  }

  /** Called by afterWrite. */
  written(status: number): void {
    this.#asyncWrites--;
    if (this.#state === CLOSED) return;
    if (status < 0) this.#fail(`write ${errnoName(status)}`);
    else if (this.#asyncWrites === 0) this.#events.streamDrained();
  }

  /** Writes what is queued, shuts our side down once libuv has written it all, then closes. */
  end(): void {
    this.#shutdown(false);
  }

  /**
   * A half-close: writes what is queued, then sends our FIN, and keeps reading; the stream
   * closes itself once the peer has ended too (a TCP proxy forwarding one side's FIN).
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
    if (this.#eofRead && this.#asyncWrites === 0) {
      // The peer has ended and the kernel has every byte: closing sends the FIN after them
      // (nothing unread is left to turn it into a reset), without a shutdown and its loop turn.
      this.destroy();
      return;
    }
    this.#state = ENDING;
    this.#halfOpen = keepReading;
    if (!keepReading) this.#handle.readStop();
    const req = new ShutdownWrap();
    req.owner = this;
    req.oncomplete = afterShutdown;
    if (this.#handle.shutdown(req) < 0) this.destroy();
  }

  /** Called by afterShutdown. */
  shutDown(): void {
    this.#shutdownDone = true;
    if (!this.#halfOpen || this.#eofRead) this.destroy();
  }

  /** Closes now; what is not written yet is dropped. */
  destroy(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    if (this.#out !== null) releaseOut(this.#out);
    this.#out = null;
    this.#parts = null;
    this.#pendingBytes = 0;
    this.#pendingParts = 0;
    this.#handle.readStop();
    this.#handle.close(() => this.#events.streamClosed());
  }

  /** Called by onRead with the byte count or a negative error. */
  read(n: number): void {
    if (this.#state === CLOSED) return;
    if (n > 0) {
      if (this.#state === OPEN || this.#state === ENDING) this.#events.streamData(n);
    } else if (n === UV_EOF) {
      this.#eofRead = true;
      this.#events.streamEnd();
      if (this.#halfOpen && this.#shutdownDone) this.destroy();
    } else if (n < 0) {
      this.#fail(`read ${errnoName(n)}`);
    }
  }

  #fail(message: string): void {
    if (this.#state === CLOSED) return;
    this.#events.streamError(message);
    this.destroy();
  }
}

/** The one read callback of every handle: `this` is the handle (no closure per connection). */
function onRead(this: UvHandle): void {
  (this.stream as UvStream).read(streamState[K_READ]);
}

function afterWrite(this: WriteReq, status: number): void {
  if (this.out) releaseOut(this.out);
  this.out = null;
  this.parts = null;
  (this.owner as UvStream).written(status);
}

function afterShutdown(this: { owner?: unknown }): void {
  (this.owner as UvStream).shutDown();
}

function afterConnect(this: ConnectReq, status: number): void {
  (this.owner as UvStream).connected(status, this);
}

/** A write request whose last write finished at once; the next write reuses it. */
let spareReq: WriteReq | null = null;
