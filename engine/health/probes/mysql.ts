import { CheckFailure, type Verdict } from './check-result.ts';
import { ProbeConnection } from './probe-connection.ts';

/**
 * HAProxy's `option mysql-check [user NAME]` (post-41, its default), byte for byte from its
 * src/tcpcheck.c: with a user, a Client Authentication packet (protocol 4.1, no password) and a
 * COM_QUIT are sent at once after connecting; the server's Initial Handshake packet must not be
 * an error (0xff), and with a user the packet after it (OK, or anything but an error) neither.
 */
export function mysqlClientAuth(user: string): Buffer {
  const name = Buffer.from(user, 'utf8');
  const length = name.length + 7 + 27;
  const out = Buffer.alloc(4 + length + 5);
  out.writeUIntLE(length, 0, 3);
  out[3] = 1; // sequence id
  out.set([0x00, 0x82, 0x00, 0x00], 4); // CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION
  out.set([0x00, 0x80, 0x00, 0x01], 8); // max packet
  out[12] = 0x21; // utf8_general_ci; then 23 zero bytes
  name.copy(out, 36);
  // name's NUL and the empty auth response are the zeroes Buffer.alloc left.
  out.set([0x01, 0x00, 0x00, 0x00, 0x01], 4 + length); // COM_QUIT, sequence 0
  return out;
}

/** One MySQL packet at `offset` of `input`: null if incomplete. */
export function mysqlPacket(
  input: Uint8Array,
  offset: number,
): { readonly payload: Uint8Array; readonly end: number } | null {
  if (input.length < offset + 4) return null;
  const length = input[offset] | (input[offset + 1] << 8) | (input[offset + 2] << 16);
  if (input.length < offset + 4 + length) return null;
  return { payload: input.subarray(offset + 4, offset + 4 + length), end: offset + 4 + length };
}

/** "MySQL error 1045 (28000): Access denied …" from an ERR packet's payload (starting 0xff). */
export function describeMysqlError(payload: Uint8Array): string {
  const code = payload.length >= 3 ? payload[1] | (payload[2] << 8) : 0;
  let text = Buffer.from(
    payload.buffer,
    payload.byteOffset + 3,
    Math.max(0, payload.length - 3),
  ).toString('utf8');
  let state = '';
  if (text.startsWith('#') && text.length >= 6) {
    state = ` (${text.slice(1, 6)})`;
    text = text.slice(6);
  }
  return `MySQL error ${code}${state}: ${text}`;
}

/** The server version in an Initial Handshake payload (protocol byte, then a NUL-terminated string). */
export function mysqlServerVersion(payload: Uint8Array): string {
  const end = payload.indexOf(0, 1);
  return Buffer.from(
    payload.buffer,
    payload.byteOffset + 1,
    (end < 0 ? payload.length : end) - 1,
  ).toString('latin1');
}

export async function probeMysql(
  user: string | null,
  host: string,
  port: number,
  deadline: number,
): Promise<Verdict> {
  const c = await ProbeConnection.open(host, port, deadline);
  try {
    if (user !== null) c.write(mysqlClientAuth(user));
    const handshake = await packetAt(c, 0, 'the server handshake');
    if (handshake.payload[0] === 0xff)
      throw new CheckFailure('L7STS', describeMysqlError(handshake.payload));
    const version = mysqlServerVersion(handshake.payload);
    if (user !== null) {
      const answer = await packetAt(c, handshake.end, 'the answer to the login');
      if (answer.payload[0] === 0xff)
        throw new CheckFailure('L7STS', describeMysqlError(answer.payload));
    }
    return { code: 'L7OK', reason: `MySQL ${version} is ok` };
  } finally {
    await c.close();
  }
}

async function packetAt(c: ProbeConnection, offset: number, what: string) {
  for (;;) {
    const packet = mysqlPacket(c.input(), offset);
    if (packet && packet.payload.length > 0) return packet;
    if (packet || !(await c.more()))
      throw new CheckFailure('L7RSP', `invalid or truncated MySQL packet for ${what}`);
  }
}
