// Plain-socket Redis clients for the bench's side jobs: seeding keys, holding idle connections.
// A client library would add its own buffering and reconnect logic to what is measured.
import { connect, type Socket } from 'node:net';

const PING = Buffer.from('*1\r\n$4\r\nPING\r\n');

function openSocket(port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to port ${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Reads from `s` until `lines` complete reply lines arrived; rejects on an error reply. */
function awaitLines(s: Socket, lines: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    let tail = '';
    const done = (err?: Error) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('error', onError);
      s.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onData = (d: Buffer) => {
      const text = tail + d.toString('latin1');
      const parts = text.split('\r\n');
      tail = parts.pop() ?? '';
      for (const line of parts) {
        if (line.startsWith('-')) return done(new Error(`error reply: ${line}`));
        seen++;
      }
      if (seen >= lines) done();
    };
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error(`connection closed after ${seen} of ${lines} replies`));
    const timer = setTimeout(
      () => done(new Error(`only ${seen} of ${lines} replies in ${timeoutMs} ms`)),
      timeoutMs,
    );
    s.on('data', onData);
    s.on('error', onError);
    s.on('close', onClose);
  });
}

/** redis-benchmark's key for `__rand_int__` = i: the number as 12 zero-padded digits. */
export function benchmarkKey(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(12, '0')}`;
}

/**
 * SETs `prefix` + every key number below `count` to `value` through port (so a proxy places
 * them), pipelined in windows so neither side buffers it all. Each reply is one line (+OK).
 */
export async function seedKeys(
  port: number,
  count: number,
  options: { prefix?: string; value?: string; window?: number; timeoutMs?: number } = {},
): Promise<void> {
  const prefix = options.prefix ?? 'key:';
  const value = options.value ?? 'xxx';
  const window = options.window ?? 5000;
  const s = await openSocket(port, 5000);
  try {
    for (let start = 0; start < count; start += window) {
      const end = Math.min(count, start + window);
      const parts: string[] = [];
      for (let i = start; i < end; i++) {
        const key = benchmarkKey(prefix, i);
        parts.push(
          `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`,
        );
      }
      const replies = awaitLines(s, end - start, options.timeoutMs ?? 30000);
      s.write(parts.join(''));
      await replies;
    }
  } finally {
    s.destroy();
  }
}

export interface IdleClients {
  readonly opened: number;
  readonly failures: readonly string[];
  /** Closes every connection (FIN, not RST, so the proxy sees an ordinary client EOF). */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Opens `count` connections to port and sends one PING on each, so every one is accepted and
 * has served a request (as a pooled client connection has); then they sit idle. Opens at most
 * `concurrency` at a time so the proxy's listen backlog never overflows. Stops opening at the
 * first failures rather than hammering a proxy that has hit a limit.
 */
export async function openIdleClients(
  port: number,
  count: number,
  options: { concurrency?: number; timeoutMs?: number } = {},
): Promise<IdleClients> {
  const concurrency = options.concurrency ?? 100;
  const timeoutMs = options.timeoutMs ?? 10000;
  const sockets: Socket[] = [];
  const failures: string[] = [];
  let ready = 0;
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < count && failures.length < 10) {
      next++;
      try {
        const s = await openSocket(port, timeoutMs);
        sockets.push(s);
        const pong = awaitLines(s, 1, timeoutMs);
        s.write(PING);
        await pong;
        ready++;
        // An idle socket must not crash the bench if the proxy drops it later.
        s.on('error', () => {});
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, one));
  return {
    opened: ready,
    failures,
    async close(closeTimeoutMs = 10000) {
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.destroyed) return resolve();
              const timer = setTimeout(() => {
                s.destroy();
                resolve();
              }, closeTimeoutMs);
              s.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              s.end();
            }),
        ),
      );
    },
  };
}

/**
 * Everything a server sends on connect before it closes: nutcracker's stats port answers one
 * JSON document that way. Undefined when nothing listens or nothing parseable arrives.
 */
export function readStatsPort(port: number, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        resolve(undefined);
      }
    };
    const timer = setTimeout(finish, timeoutMs);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('end', finish);
    s.once('error', finish);
  });
}

/** Sends one command and returns its raw reply (for bulk and simple replies, one round trip). */
export async function rawCommand(
  port: number,
  args: readonly string[],
  timeoutMs = 3000,
): Promise<string> {
  const s = await openSocket(port, timeoutMs);
  try {
    const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    return await new Promise<string>((resolve, reject) => {
      let reply = '';
      const timer = setTimeout(() => reject(new Error(`no reply in ${timeoutMs} ms`)), timeoutMs);
      s.on('data', (d: Buffer) => {
        reply += d.toString('latin1');
        // A simple, error or integer reply is one line; a bulk reply is its header plus the data.
        const bulk = /^\$(-?\d+)\r\n/.exec(reply);
        const complete = bulk
          ? Number(bulk[1]) < 0 || reply.length >= bulk[0].length + Number(bulk[1]) + 2
          : reply.includes('\r\n');
        if (complete) {
          clearTimeout(timer);
          resolve(reply);
        }
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.write(request);
    });
  } finally {
    s.destroy();
  }
}
