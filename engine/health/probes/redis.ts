import { CheckFailure, type Verdict } from './check-result.ts';
import { ProbeConnection } from './probe-connection.ts';

/** What HAProxy's `option redis-check` sends and expects. */
const PING = '*1\r\n$4\r\nPING\r\n';
const PONG = '+PONG\r\n';

/**
 * HAProxy's redis-check: PING, expect +PONG (L7OK); any other reply is L7STS with the reply's
 * first line. Unlike HAProxy, which waits for the timeout after a reply that is not +PONG
 * (its expect keeps reading), this decides at the first complete line: a Redis answers PING
 * with exactly one (e.g. `-NOAUTH Authentication required.` or `-LOADING …`).
 */
export async function probeRedis(host: string, port: number, deadline: number): Promise<Verdict> {
  const c = await ProbeConnection.open(host, port, deadline);
  try {
    c.write(PING);
    for (;;) {
      const input = c.input();
      const eol = input.indexOf('\r\n');
      if (eol >= 0) {
        const line = input.toString('latin1', 0, eol + 2);
        if (line === PONG) return { code: 'L7OK', reason: 'Redis server is ok' };
        throw new CheckFailure('L7STS', `Redis answered ${JSON.stringify(line.slice(0, -2))}`);
      }
      if (!(await c.more())) {
        throw new CheckFailure(
          'L7RSP',
          c.input().length === 0
            ? 'server closed the connection without answering PING'
            : `Redis answered ${JSON.stringify(c.input().toString('latin1'))} and closed`,
        );
      }
    }
  } finally {
    await c.close();
  }
}
