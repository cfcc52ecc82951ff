// BackendKeyScanner on real PostgreSQL 15 replies: the key it reads is the session's
// (pg_backend_pid() agrees, and a CancelRequest built from it cancels that session's query),
// after an SSLRequest refused with 'N' too; a TLS session is reported as encrypted.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  cstring,
  describeError,
  frontendMessage,
  sslRequest,
  startupMessage,
} from '../../engine/health/probes/postgres-wire.ts';
import { BackendKeyScanner } from '../../workers/tcp/postgres/backend-key.ts';
import { CANCEL_REQUEST_CODE, classifyStartup } from '../../workers/tcp/postgres/startup.ts';
import { type PostgresCluster, startPostgres } from '../helpers/postgres.ts';

/** A raw client socket that keeps every chunk the server sent, as it arrived. */
class RawSession {
  readonly socket: Socket;
  readonly chunks: Buffer[] = [];
  private waiter: (() => void) | null = null;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.waiter?.();
    });
  }
  /** Resolves with the next chunk (waits up to 10 s). */
  async next(from: number): Promise<Buffer> {
    const deadline = Date.now() + 10_000;
    while (this.chunks.length <= from) {
      if (Date.now() > deadline) throw new Error('no answer from PostgreSQL in 10 s');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
    return this.chunks[from];
  }
  /** Everything received from chunk `from` on, once it holds a ReadyForQuery. */
  async untilReady(from: number): Promise<Buffer> {
    for (let i = from; ; i++) {
      await this.next(i);
      const all = Buffer.concat(this.chunks.slice(from));
      if (hasMessage(all, 'Z')) return all;
    }
  }
}

/** Whether a buffer of whole backend messages holds one of `type`; returns its body. */
function findMessage(buf: Buffer, type: string): Buffer | null {
  for (let i = 0; i + 5 <= buf.length; ) {
    const len = buf.readInt32BE(i + 1);
    if (buf[i] === type.charCodeAt(0)) return buf.subarray(i + 5, i + 1 + len);
    i += 1 + len;
  }
  return null;
}
const hasMessage = (buf: Buffer, type: string) => findMessage(buf, type) !== null;

/** Feeds the session's chunks to a scanner as they come, until it is done. */
async function scan(session: RawSession, from = 0): Promise<BackendKeyScanner> {
  const scanner = new BackendKeyScanner();
  for (let i = from; !scanner.done; i++) {
    const chunk = await session.next(i);
    scanner.feed(chunk, 0, chunk.length);
  }
  return scanner;
}

let plain: PostgresCluster;
let tls: PostgresCluster;
before(async () => {
  [plain, tls] = await Promise.all([startPostgres(), startPostgres({ tls: true })]);
});
after(async () => {
  await Promise.all([plain?.stop(), tls?.stop()]);
});

describe('BackendKeyScanner on a real PostgreSQL', () => {
  it("reads the session's pid and key: pg_backend_pid() agrees and a cancel with it works", async () => {
    const s = new RawSession(plain.port);
    try {
      s.socket.write(startupMessage('postgres', 'postgres'));
      const scanner = await scan(s);
      assert.equal(scanner.status, 'ready');
      assert.equal(scanner.key?.length, 4);
      let from = s.chunks.length;
      s.socket.write(frontendMessage('Q', cstring('SELECT pg_backend_pid()')));
      const row = findMessage(await s.untilReady(from), 'D')!;
      const pid = Number(row.toString('latin1', 6, 6 + row.readInt32BE(2)));
      assert.equal(scanner.pid, pid);

      // The key is right if the server accepts a cancel made from it.
      from = s.chunks.length;
      s.socket.write(frontendMessage('Q', cstring('SELECT pg_sleep(30)')));
      await new Promise((r) => setTimeout(r, 300));
      const cancel = Buffer.alloc(12 + scanner.key!.length);
      cancel.writeInt32BE(cancel.length, 0);
      cancel.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      cancel.writeInt32BE(scanner.pid, 8);
      cancel.set(scanner.key!, 12);
      const classified = classifyStartup(cancel, 0, cancel.length);
      assert.deepEqual(classified, { kind: 'cancel', length: 16, pid, key: scanner.key });
      const c = connect(plain.port, '127.0.0.1');
      c.end(cancel);
      const answer = await s.untilReady(from);
      assert.equal(
        describeError(findMessage(answer, 'E')!),
        'ERROR 57014 canceling statement due to user request',
      );
      c.destroy();
    } finally {
      s.socket.destroy();
    }
  });

  it("reads the key after an SSLRequest answered 'N' (plaintext follows)", async () => {
    const s = new RawSession(plain.port);
    try {
      s.socket.write(sslRequest());
      const answer = await s.next(0);
      assert.equal(answer.toString(), 'N');
      s.socket.write(startupMessage('postgres', null));
      const scanner = await scan(s);
      assert.equal(scanner.status, 'ready');
      const from = s.chunks.length;
      s.socket.write(frontendMessage('Q', cstring('SELECT pg_backend_pid()')));
      const row = findMessage(await s.untilReady(from), 'D')!;
      assert.equal(scanner.pid, Number(row.toString('latin1', 6, 6 + row.readInt32BE(2))));
    } finally {
      s.socket.destroy();
    }
  });

  it("stops as encrypted when the server answers 'S'", async () => {
    const s = new RawSession(tls.port);
    try {
      s.socket.write(sslRequest());
      const scanner = await scan(s);
      assert.deepEqual([scanner.status, scanner.key], ['encrypted', null]);
    } finally {
      s.socket.destroy();
    }
  });

  it('stops as refused on a login error', async () => {
    const s = new RawSession(plain.port);
    try {
      s.socket.write(startupMessage('postgres', 'no_such_db'));
      const scanner = await scan(s);
      assert.deepEqual([scanner.status, scanner.key], ['refused', null]);
    } finally {
      s.socket.destroy();
    }
  });
});
