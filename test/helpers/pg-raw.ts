// A PostgreSQL session spoken by hand (protocol 3.0, trust auth): log in, read the session's
// BackendKeyData, run a query, and send a CancelRequest on a new connection, as libpq does.
import { connect, type Socket } from 'node:net';
import {
  cstring,
  describeError,
  frontendMessage,
  startupMessage,
} from '../../engine/health/probes/postgres-wire.ts';
import { CANCEL_REQUEST_CODE } from '../../workers/tcp/postgres/startup.ts';

/** The body of the first backend message of `type` in whole messages from `from`, or null. */
export function findMessage(buf: Buffer, type: string): Buffer | null {
  for (let i = 0; i + 5 <= buf.length; ) {
    const len = buf.readInt32BE(i + 1);
    if (buf[i] === type.charCodeAt(0)) return buf.subarray(i + 5, i + 1 + len);
    i += 1 + len;
  }
  return null;
}

export class PgRawSession {
  readonly socket: Socket;
  #input = Buffer.alloc(0);
  #wake: (() => void) | null = null;
  pid = 0;
  key = Buffer.alloc(0);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#input = Buffer.concat([this.#input, d]);
      this.#wake?.();
    });
    socket.on('error', () => {});
  }

  /** Connects and logs in as `user` (trust); resolves once ReadyForQuery came, with the key read. */
  static async login(port: number, user = 'postgres'): Promise<PgRawSession> {
    const socket = connect(port, '127.0.0.1');
    const s = new PgRawSession(socket);
    socket.write(startupMessage(user, 'postgres'));
    const reply = await s.untilReady();
    const k = findMessage(reply, 'K');
    if (k === null)
      throw new Error(`no BackendKeyData in the startup reply: ${reply.toString('latin1')}`);
    s.pid = k.readInt32BE(0);
    s.key = Buffer.from(k.subarray(4));
    return s;
  }

  /** What the server sent up to and including the next ReadyForQuery (bounded by `timeoutMs`). */
  async untilReady(timeoutMs = 15000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = readyEnd(this.#input);
      if (end > 0) {
        const out = this.#input.subarray(0, end);
        this.#input = this.#input.subarray(end);
        return out;
      }
      if (Date.now() > deadline) throw new Error(`no ReadyForQuery within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  /** Sends a simple query; the answer is read with untilReady. */
  send(sql: string): void {
    this.socket.write(frontendMessage('Q', cstring(sql)));
  }

  /** Runs a query; resolves with the first column of the first row, or the error as text. */
  async query(sql: string): Promise<string> {
    this.send(sql);
    const reply = await this.untilReady();
    const error = findMessage(reply, 'E');
    if (error !== null) return describeError(error);
    const row = findMessage(reply, 'D');
    return row === null ? '' : row.toString('utf8', 6, 6 + row.readInt32BE(2));
  }

  /** Sends this session's CancelRequest to `port` on a new connection, as libpq does. */
  cancelVia(port: number): void {
    const cancel = Buffer.alloc(12 + this.key.length);
    cancel.writeInt32BE(cancel.length, 0);
    cancel.writeInt32BE(CANCEL_REQUEST_CODE, 4);
    cancel.writeInt32BE(this.pid, 8);
    this.key.copy(cancel, 12);
    const c = connect(port, '127.0.0.1');
    c.on('error', () => {});
    c.end(cancel);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Where the first ReadyForQuery message ends, or 0. */
function readyEnd(buf: Buffer): number {
  for (let i = 0; i + 5 <= buf.length; ) {
    const end = i + 1 + buf.readInt32BE(i + 1);
    if (end > buf.length) return 0;
    if (buf[i] === 0x5a) return end;
    i = end;
  }
  return 0;
}

export { describeError };
