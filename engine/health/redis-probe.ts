import { connect } from 'node:net';
import type { RedisPoolConfig, ServerSpec } from '../config/types.ts';

export interface ProbeResult {
  readonly ok: boolean;
  /** Why it failed; empty when ok. */
  readonly reason: string;
}

function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/**
 * The health check a server must pass to rejoin the ring: connect, AUTH and SELECT as the pool
 * would, then PING, each answered as a healthy Redis answers, within `timeoutMs`.
 */
export function probeRedis(
  pool: RedisPoolConfig,
  server: ServerSpec,
  timeoutMs: number,
): Promise<ProbeResult> {
  const expected: string[] = [];
  let request = '';
  if (pool.redisAuth !== null) {
    request += command('AUTH', pool.redisAuth);
    expected.push('+OK');
  }
  if (pool.redisDb !== 0) {
    request += command('SELECT', String(pool.redisDb));
    expected.push('+OK');
  }
  request += command('PING');
  expected.push('+PONG');
  return new Promise((resolve) => {
    const a = server.address;
    const socket = a.kind === 'tcp' ? connect(a.port, a.host) : connect(a.path);
    let input = '';
    let done = false;
    const finish = (reason: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: reason === '', reason });
    };
    const timer = setTimeout(
      () => finish(`health check timed out after ${timeoutMs} ms`),
      timeoutMs,
    );
    socket.setNoDelay(true);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => {
      input += d.toString('latin1');
      const lines = input.split('\r\n');
      for (let i = 0; i < Math.min(lines.length - 1, expected.length); i++) {
        if (lines[i] !== expected[i])
          return finish(`health check got '${lines[i]}', expected '${expected[i]}'`);
      }
      if (lines.length - 1 >= expected.length) finish('');
    });
    socket.once('error', (err) => finish(`health check failed: ${err.message}`));
    socket.once('close', () => finish('health check: connection closed'));
  });
}
