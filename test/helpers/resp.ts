// A raw RESP2 client over node:net, written independently of legate's parser and scanner so
// that tests of them do not check legate against itself.
import { connect, type Socket } from 'node:net';

export type Arg = string | Buffer | number;

/** Encodes one command as a RESP array of bulk strings. */
export function encode(...args: readonly Arg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Where the RESP2 reply starting at buf[start] ends; -1 while incomplete. Throws on bad bytes. */
export function replyEnd(buf: Buffer, start: number): number {
  if (start >= buf.length) return -1;
  const lf = buf.indexOf(10, start);
  if (lf === -1) return -1;
  if (buf[lf - 1] !== 13) throw new Error(`reply line without CR at ${start}`);
  const type = String.fromCharCode(buf[start]);
  const line = buf.toString('latin1', start + 1, lf - 1);
  switch (type) {
    case '+':
    case '-':
    case ':':
      return lf + 1;
    case '$': {
      const n = Number(line);
      if (n === -1) return lf + 1;
      const end = lf + 1 + n + 2;
      return end <= buf.length ? end : -1;
    }
    case '*': {
      let pos = lf + 1;
      for (let i = 0; i < Number(line); i++) {
        pos = replyEnd(buf, pos);
        if (pos === -1) return -1;
      }
      return pos;
    }
    default:
      throw new Error(`unexpected reply type ${JSON.stringify(type)} at ${start}`);
  }
}

export type Reply = string | number | null | ReplyError | Buffer | Reply[];

export class ReplyError extends Error {}

/** Decodes one whole reply: simple strings as strings, bulk strings as Buffers. */
export function decode(buf: Buffer): Reply {
  const [value] = decodeAt(buf, 0);
  return value;
}

function decodeAt(buf: Buffer, start: number): [Reply, number] {
  const lf = buf.indexOf(10, start);
  const line = buf.toString('latin1', start + 1, lf - 1);
  switch (String.fromCharCode(buf[start])) {
    case '+':
      return [line, lf + 1];
    case '-':
      return [new ReplyError(line), lf + 1];
    case ':':
      return [Number(line), lf + 1];
    case '$': {
      const n = Number(line);
      if (n === -1) return [null, lf + 1];
      return [buf.subarray(lf + 1, lf + 1 + n), lf + 1 + n + 2];
    }
    default: {
      const n = Number(line);
      if (n === -1) return [null, lf + 1];
      const items: Reply[] = [];
      let pos = lf + 1;
      for (let i = 0; i < n; i++) {
        const [v, next] = decodeAt(buf, pos);
        items.push(v);
        pos = next;
      }
      return [items, pos];
    }
  }
}

/** A connection that sends raw bytes and reads whole replies as their raw bytes. */
export class RawClient {
  readonly socket: Socket;
  #input: Buffer = Buffer.alloc(0);
  #chunks: Buffer[] = [];
  #closed = false;
  #wake: (() => void) | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#chunks.push(d);
      this.#notify();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#notify();
    });
    socket.on('error', () => {});
  }

  /**
   * Connects to 127.0.0.1:port (or host:port), or to a unix socket when given its path; `from`:
   * the local address to connect from (another loopback address, 127.0.0.2 …).
   */
  static connect(port: number | string, host = '127.0.0.1', from?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket =
        typeof port === 'string'
          ? connect({ path: port })
          : connect({ port, host, localAddress: from });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Sends commands and resolves with their replies' raw bytes. */
  async command(...args: readonly Arg[]): Promise<Buffer> {
    this.write(encode(...args));
    return (await this.read(1))[0];
  }

  /** Sends a command and decodes its reply. */
  async call(...args: readonly Arg[]): Promise<Reply> {
    return decode(await this.command(...args));
  }

  /** The next `count` replies, each as its own bytes; rejects on close or after `timeoutMs`. */
  async read(count: number, timeoutMs = 10000): Promise<Buffer[]> {
    const replies: Buffer[] = [];
    const deadline = Date.now() + timeoutMs;
    while (replies.length < count) {
      if (this.#chunks.length > 0) {
        this.#input = Buffer.concat([this.#input, ...this.#chunks]);
        this.#chunks = [];
      }
      let pos = 0;
      for (let end = replyEnd(this.#input, 0); end !== -1 && replies.length < count; ) {
        replies.push(Buffer.from(this.#input.subarray(pos, end)));
        pos = end;
        end = replyEnd(this.#input, pos);
      }
      this.#input = this.#input.subarray(pos);
      if (replies.length === count) break;
      if (this.#closed) {
        throw new Error(`connection closed after ${replies.length} of ${count} replies`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${replies.length} of ${count} replies`);
      await this.#waitForData(left);
    }
    return replies;
  }

  /** Resolves true once the server has closed the connection, false after `timeoutMs`. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.#waitForData(left);
    }
    return true;
  }

  /** Bytes received and not yet returned by `read`. */
  unread(): Buffer {
    return Buffer.concat([this.#input, ...this.#chunks]);
  }

  close(): void {
    this.socket.destroy();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #waitForData(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, timeoutMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Which of `ports` holds `key` in database `db` (asked of each server directly). */
export async function holders(ports: readonly number[], key: Arg, db = 0): Promise<number[]> {
  const found: number[] = [];
  for (const port of ports) {
    const c = await RawClient.connect(port);
    try {
      if (db !== 0) await c.command('SELECT', db);
      if ((await c.call('EXISTS', key)) === 1) found.push(port);
    } finally {
      c.close();
    }
  }
  return found;
}

/** Opens RawClients and keeps them, so that a test file's `after` can close every one it opened. */
export class RawClients {
  readonly #open: RawClient[] = [];

  async connect(port: number): Promise<RawClient> {
    const c = await RawClient.connect(port);
    this.#open.push(c);
    return c;
  }

  closeAll(): void {
    for (const c of this.#open.splice(0)) c.close();
  }
}
