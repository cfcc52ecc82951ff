import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { CheckFailure } from './check-result.ts';

/** Answers larger than this are cut here (HAProxy's check buffer is 16 KB; login replies are < 1 KB). */
const MAX_INPUT = 65536;
/** How long close() waits for our FIN (or TLS close_notify) to leave before destroying the socket. */
const CLOSE_GRACE_MS = 200;

/** Where in the conversation a probe is: names the failure when the time runs out or the socket errs. */
type Phase = 'connect' | 'tls' | 'read';

/**
 * One TCP (then maybe TLS) connection a probe talks over: buffers what the server sends, and
 * turns a refused connect, an error or the end of the check's time into a CheckFailure with
 * HAProxy's code for the phase it happened in (L4CON/L4TOUT, L6RSP/L6TOUT, L7RSP/L7TOUT).
 * The deadline is absolute, shared by every connection of one check.
 */
export class ProbeConnection {
  private socket: Socket;
  private readonly deadline: number;
  private readonly timer: NodeJS.Timeout;
  private phase: Phase = 'connect';
  private buf = Buffer.allocUnsafe(1024);
  private start = 0;
  private end = 0;
  private received = 0;
  private closed = false;
  private failure: CheckFailure | null = null;
  private wake: (() => void) | null = null;
  private handleClosed: Promise<void> = Promise.resolve();
  /** Whether the TLS layer is on (after startTls). */
  tls = false;
  /** More than MAX_INPUT bytes arrived: the rest was dropped (HAProxy: buffer full = last read). */
  full = false;
  /** host:port, for messages. */
  readonly address: string;

  private constructor(host: string, port: number, deadline: number) {
    this.address = `${host}:${port}`;
    this.deadline = deadline;
    this.socket = connect({ host, port });
    this.socket.setNoDelay(true);
    this.listen(this.socket);
    this.timer = setTimeout(() => this.onTimeout(), Math.max(0, deadline - performance.now()));
  }

  /** Connects to host:port before `deadline` (a performance.now() time), or throws L4CON/L4TOUT. */
  static async open(host: string, port: number, deadline: number): Promise<ProbeConnection> {
    const c = new ProbeConnection(host, port, deadline);
    try {
      while (c.phase === 'connect') await c.wait();
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  /** Milliseconds left before the deadline. */
  remaining(): number {
    return Math.max(0, this.deadline - performance.now());
  }

  private listen(socket: Socket): void {
    // 'close' comes when the handle is closed (socket.closed turns true earlier, at destroy()).
    this.handleClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('connect', () => {
      if (this.phase === 'connect') this.phase = 'read';
      this.notify();
    });
    socket.on('data', (chunk: Buffer) => this.append(chunk));
    socket.on('end', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.failure) return;
    const what = err.code === 'ECONNREFUSED' ? 'connection refused' : err.message;
    if (this.phase === 'connect')
      this.failure = new CheckFailure('L4CON', `${what} (${this.address})`);
    else if (this.phase === 'tls')
      this.failure = new CheckFailure('L6RSP', `TLS handshake failed: ${err.message}`);
    else this.failure = new CheckFailure('L7RSP', `connection error while reading: ${what}`);
    this.notify();
  }

  private onTimeout(): void {
    if (this.failure) return;
    if (this.phase === 'connect')
      this.failure = new CheckFailure('L4TOUT', `connect to ${this.address} timed out`);
    else if (this.phase === 'tls')
      this.failure = new CheckFailure('L6TOUT', 'TLS handshake timed out');
    else this.failure = new CheckFailure('L7TOUT', 'timed out waiting for the answer');
    this.socket.destroy();
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private append(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.full) return;
    let n = chunk.length;
    if (this.end - this.start + n > MAX_INPUT) {
      n = MAX_INPUT - (this.end - this.start);
      this.full = true;
    }
    if (this.end + n > this.buf.length) {
      const size = this.end - this.start;
      const next =
        size + n > this.buf.length
          ? Buffer.allocUnsafe(Math.min(MAX_INPUT, 2 * (size + n)))
          : this.buf;
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.start = 0;
      this.end = size;
    }
    chunk.copy(this.buf, this.end, 0, n);
    this.end += n;
    this.notify();
  }

  private wait(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    }).then(() => {
      if (this.failure) throw this.failure;
    });
  }

  /** What has arrived and not been consumed (a view, valid until the next await). */
  input(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  consume(n: number): void {
    this.start += n;
    if (this.start >= this.end) this.start = this.end = 0;
  }

  clear(): void {
    this.start = this.end = 0;
    this.full = false;
  }

  /**
   * Waits for more bytes: true when some arrived, false when the server closed (or the buffer is
   * full) first. Throws the check's failure on error or timeout.
   */
  async more(): Promise<boolean> {
    const seen = this.received;
    for (;;) {
      if (this.received > seen && !this.full) return true;
      if (this.failure) throw this.failure;
      if (this.closed || this.full) return false;
      await this.wait();
    }
  }

  write(data: Uint8Array | string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
  }

  /**
   * Starts TLS on this connection (after PostgreSQL's 'S'). The certificate is not verified: the
   * check asks whether the server answers, not who it is; clients verify for themselves end to end.
   */
  async startTls(host: string): Promise<void> {
    if (this.end > this.start)
      throw new CheckFailure('L6RSP', 'server sent data before the TLS handshake');
    this.phase = 'tls';
    // TLS reads the socket from now on; its 'error' and 'close' still reach us through both.
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('end');
    const tls = connectTls({
      socket: this.socket,
      rejectUnauthorized: false,
      servername: isIP(host) === 0 ? host : undefined,
    });
    this.socket = tls;
    this.closed = false;
    this.listen(tls);
    tls.once('secureConnect', () => {
      this.phase = 'read';
      this.tls = true;
      this.notify();
    });
    while (this.phase === 'tls') await this.wait();
  }

  /**
   * Ends politely (FIN, or close_notify then FIN), waiting briefly for it to leave, then frees
   * the socket and waits until its handle is closed: nothing of the probe outlives the check.
   */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    const socket = this.socket;
    if (!socket.destroyed && !this.closed && socket.writable) {
      await new Promise<void>((resolve) => {
        const grace = setTimeout(resolve, Math.min(CLOSE_GRACE_MS, this.remaining()));
        socket.end(() => {
          clearTimeout(grace);
          resolve();
        });
      });
    }
    await this.destroy();
  }

  /** Frees the socket at once and waits until its handle is closed. */
  async destroy(): Promise<void> {
    clearTimeout(this.timer);
    this.socket.destroy();
    await this.handleClosed;
  }
}
