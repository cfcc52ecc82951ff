// The few PostgreSQL frontend/backend protocol messages a health check writes and reads
// (protocol 3.0, https://www.postgresql.org/docs/current/protocol-message-formats.html).
import { CheckFailure } from './check-result.ts';
import type { ProbeConnection } from './probe-connection.ts';

const PROTOCOL_3_0 = 196608;
const SSL_REQUEST_CODE = 80877103;
/** Longest backend message a check accepts (its answers to login and one SELECT are < 1 KB). */
const MAX_MESSAGE = 32768;

/** StartupMessage: protocol 3.0, `user` and, when given, `database` (HAProxy sends `user` only). */
export function startupMessage(user: string, database: string | null): Buffer {
  const params: string[] = ['user', user];
  if (database !== null) params.push('database', database);
  const body = Buffer.from(`${params.join('\0')}\0\0`, 'utf8');
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(PROTOCOL_3_0, 4);
  body.copy(out, 8);
  return out;
}

export function sslRequest(): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(SSL_REQUEST_CODE, 4);
  return out;
}

/** A typed frontend message: type byte, Int32 length, body. */
export function frontendMessage(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/** A NUL-terminated UTF-8 string, as message bodies carry them. */
export function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf8');
}

export const TERMINATE = frontendMessage('X', Buffer.alloc(0));

/** A backend message: its type and body (a view, valid until the next await on the connection). */
export interface BackendMessage {
  readonly type: string;
  readonly body: Buffer;
}

/**
 * Reads the next whole backend message and consumes it. Throws L7RSP if the server closes
 * first or the length is impossible; the caller's deadline (L7TOUT) bounds the wait.
 */
export async function readMessage(c: ProbeConnection, waitingFor: string): Promise<BackendMessage> {
  for (;;) {
    const input = c.input();
    if (input.length >= 5) {
      const length = input.readInt32BE(1);
      if (length < 4 || length > MAX_MESSAGE)
        throw new CheckFailure(
          'L7RSP',
          `not a PostgreSQL answer (message '${printable(input[0])}' of length ${length}) while waiting for ${waitingFor}`,
        );
      if (input.length >= 1 + length) {
        const message = {
          type: String.fromCharCode(input[0]),
          body: input.subarray(5, 1 + length),
        };
        c.consume(1 + length);
        return message;
      }
    }
    if (!(await c.more()))
      throw new CheckFailure(
        'L7RSP',
        `server closed the connection while we waited for ${waitingFor}`,
      );
  }
}

export function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f
    ? String.fromCharCode(byte)
    : `0x${byte.toString(16).padStart(2, '0')}`;
}

/** "FATAL 28000 no pg_hba.conf entry for …" from an ErrorResponse (or NoticeResponse) body. */
export function describeError(body: Uint8Array): string {
  const fields = new Map<string, string>();
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const type = String.fromCharCode(body[i]);
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    fields.set(
      type,
      Buffer.from(body.buffer, body.byteOffset + i + 1, end - i - 1).toString('utf8'),
    );
    i = end + 1;
  }
  const severity = fields.get('V') ?? fields.get('S') ?? 'ERROR';
  const code = fields.get('C');
  const message = fields.get('M') ?? '(no message)';
  return code ? `${severity} ${code} ${message}` : `${severity} ${message}`;
}

/** Names of the authentication requests ('R' codes) PostgreSQL sends. */
export const AUTH_NAMES: Readonly<Record<number, string>> = {
  0: 'no password (trust)',
  2: 'Kerberos V5',
  3: 'a cleartext password',
  4: 'a crypt() password',
  5: 'an MD5 password',
  6: 'SCM credentials',
  7: 'GSSAPI',
  9: 'SSPI',
  10: 'SASL',
};
