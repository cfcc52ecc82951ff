import { createHash } from 'node:crypto';
import type { HealthCheckKind } from '../../config/tcp-types.ts';
import { CheckFailure, type Verdict } from './check-result.ts';
import {
  AUTH_NAMES,
  cstring,
  describeError,
  frontendMessage,
  printable,
  readMessage,
  sslRequest,
  startupMessage,
  TERMINATE,
} from './postgres-wire.ts';
import { ProbeConnection } from './probe-connection.ts';
import { ScramClient } from './scram.ts';

type PostgresCheck = Extract<HealthCheckKind, { kind: 'postgres' }>;

/** The authentication requests HAProxy's pgsql-check accepts as "up" (its rbinary expect). */
const HAPROXY_AUTH_CODES = new Set([0, 2, 3, 4, 5, 6, 7, 9, 10]);
const IN_RECOVERY = 'SELECT pg_is_in_recovery()';

/**
 * The `postgres` check. With `ssl: disable` and no `requirePrimary` it is exactly HAProxy's
 * pgsql-check: a StartupMessage, then an 'R' authentication request of a known kind is L7OK, an
 * ErrorResponse is L7RSP with the server's message, anything else L7STS. `prefer` sends an
 * SSLRequest first and talks TLS after 'S' (plaintext after 'N'); `require` fails on 'N'.
 * `requirePrimary` logs in (trust, cleartext, MD5 or SCRAM-SHA-256) and runs
 * `SELECT pg_is_in_recovery()`: a standby is L7STS.
 */
export async function probePostgres(
  check: PostgresCheck,
  host: string,
  port: number,
  deadline: number,
): Promise<Verdict> {
  const c = await ProbeConnection.open(host, port, deadline);
  let loggedIn = false;
  try {
    if (check.ssl !== 'disable') await negotiateTls(c, host, check.ssl === 'require');
    c.write(startupMessage(check.user, check.database));
    const first = await readMessage(c, 'the answer to the StartupMessage');
    if (first.type === 'E') throw refused(first.body);
    if (first.type !== 'R' || first.body.length < 4)
      throw new CheckFailure(
        'L7STS',
        `PostgreSQL unknown error: answered the StartupMessage with message '${printable(first.type.charCodeAt(0))}'`,
      );
    const auth = first.body.readInt32BE(0);
    loggedIn = auth === 0;
    const over = c.tls ? ' over TLS' : '';
    if (!check.requirePrimary) {
      // HAProxy's expect also insists the message is short (length byte < 256); a real one is.
      if (!HAPROXY_AUTH_CODES.has(auth) || first.body.length + 4 >= 256)
        throw new CheckFailure('L7STS', `PostgreSQL unknown error: authentication request ${auth}`);
      return {
        code: 'L7OK',
        reason: `PostgreSQL server is ok${over} (asks for ${AUTH_NAMES[auth]})`,
      };
    }
    await logIn(c, check, auth, first.body);
    loggedIn = true;
    const recovery = await inRecovery(c);
    if (recovery) throw new CheckFailure('L7STS', 'standby (in recovery)');
    return { code: 'L7OK', reason: `primary (not in recovery)${over}` };
  } finally {
    if (loggedIn) c.write(TERMINATE);
    await c.close();
  }
}

function refused(body: Buffer): CheckFailure {
  return new CheckFailure('L7RSP', `PostgreSQL refused: ${describeError(body)}`);
}

async function negotiateTls(c: ProbeConnection, host: string, required: boolean): Promise<void> {
  c.write(sslRequest());
  while (c.input().length === 0) {
    if (!(await c.more()))
      throw new CheckFailure('L6RSP', 'server closed the connection after the SSLRequest');
  }
  const answer = c.input()[0];
  if (answer === 0x53 /* S */) {
    c.consume(1);
    await c.startTls(host);
  } else if (answer === 0x4e /* N */) {
    c.consume(1);
    if (required)
      throw new CheckFailure('L6RSP', 'server does not offer TLS (answered N to the SSLRequest)');
  } else if (answer === 0x45 /* E */) {
    throw refused((await readMessage(c, 'the error answering the SSLRequest')).body);
  } else {
    throw new CheckFailure('L6RSP', `unexpected answer '${printable(answer)}' to the SSLRequest`);
  }
}

/** Answers the server's authentication requests until AuthenticationOk, then waits for ReadyForQuery. */
async function logIn(c: ProbeConnection, check: PostgresCheck, auth: number, body: Buffer) {
  let scram: ScramClient | null = null;
  for (;;) {
    if (auth === 0) break;
    const password = check.password;
    if (password === null && (auth === 3 || auth === 5 || auth === 10))
      throw new CheckFailure(
        'L7STS',
        `server asks for ${AUTH_NAMES[auth]} and the check has no password (needed for requirePrimary)`,
      );
    if (auth === 3) {
      c.write(frontendMessage('p', cstring(password!)));
    } else if (auth === 5) {
      const inner = md5hex(`${password}${check.user}`);
      const salt = body.subarray(4, 8);
      const outer = createHash('md5').update(inner).update(salt).digest('hex');
      c.write(frontendMessage('p', cstring(`md5${outer}`)));
    } else if (auth === 10) {
      const mechanisms = body.toString('utf8', 4).split('\0').filter(Boolean);
      if (!mechanisms.includes('SCRAM-SHA-256'))
        throw new CheckFailure('L7STS', `server offers only SASL ${mechanisms.join(', ')}`);
      scram = new ScramClient(password!);
      const first = Buffer.from(scram.first(), 'utf8');
      const len = Buffer.allocUnsafe(4);
      len.writeInt32BE(first.length, 0);
      c.write(frontendMessage('p', Buffer.concat([cstring('SCRAM-SHA-256'), len, first])));
    } else if (auth === 11 && scram) {
      let final: string;
      try {
        final = scram.final(body.toString('utf8', 4));
      } catch (err) {
        throw new CheckFailure('L7RSP', (err as Error).message);
      }
      c.write(frontendMessage('p', Buffer.from(final, 'utf8')));
    } else if (auth === 12 && scram) {
      if (!scram.verify(body.toString('utf8', 4)))
        throw new CheckFailure('L7RSP', "server's SCRAM signature does not match the password");
    } else {
      throw new CheckFailure(
        'L7STS',
        `server asks for ${AUTH_NAMES[auth] ?? `authentication method ${auth}`}, which the check cannot do`,
      );
    }
    const next = await readMessage(c, 'the answer to our authentication');
    if (next.type === 'E') throw refused(next.body);
    if (next.type !== 'R' || next.body.length < 4)
      throw new CheckFailure('L7RSP', `unexpected message '${next.type}' during authentication`);
    auth = next.body.readInt32BE(0);
    body = next.body;
  }
  for (;;) {
    const m = await readMessage(c, 'ReadyForQuery');
    if (m.type === 'Z') return;
    if (m.type === 'E') throw refused(m.body);
  }
}

async function inRecovery(c: ProbeConnection): Promise<boolean> {
  c.write(frontendMessage('Q', cstring(IN_RECOVERY)));
  let value: string | null = null;
  for (;;) {
    const m = await readMessage(c, `the answer to ${IN_RECOVERY}`);
    if (m.type === 'E')
      throw new CheckFailure('L7STS', `${IN_RECOVERY} failed: ${describeError(m.body)}`);
    // DataRow: Int16 columns, then Int32 length and the bytes of each.
    if (m.type === 'D' && m.body.length >= 7 && m.body.readInt16BE(0) === 1) {
      const len = m.body.readInt32BE(2);
      if (len >= 0 && 6 + len <= m.body.length) value = m.body.toString('latin1', 6, 6 + len);
    }
    if (m.type === 'Z') break;
  }
  if (value !== 't' && value !== 'f')
    throw new CheckFailure(
      'L7RSP',
      `${IN_RECOVERY} gave no boolean (got ${JSON.stringify(value)})`,
    );
  return value === 't';
}

function md5hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}
