// What a client's first message on a PostgreSQL connection is, read from the bytes in place
// (https://www.postgresql.org/docs/current/protocol-message-formats.html). The broker needs it
// to route a CancelRequest to the server that issued the key, and to know when a session goes
// encrypted (its BackendKeyData is then unreadable).

/** Request codes in the second Int32 of an untyped first message. */
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
/** PostgreSQL refuses a longer startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_LENGTH = 10000;
/** Protocol 3.2 (PostgreSQL 18) allows secret keys up to 256 bytes; 3.0 keys are 4. */
export const MAX_CANCEL_KEY_LENGTH = 256;
/** The first byte of a TLS handshake record: PostgreSQL 17's direct TLS (sslnegotiation=direct). */
const TLS_HANDSHAKE = 0x16;

export type StartupMessageKind =
  /** Not enough bytes to tell yet: at least `needed` bytes in all. */
  | { readonly kind: 'incomplete'; readonly needed: number }
  | { readonly kind: 'ssl-request'; readonly length: 8 }
  | { readonly kind: 'gssenc-request'; readonly length: 8 }
  /** A TLS ClientHello sent at once, without SSLRequest (PostgreSQL 17+ direct TLS). */
  | { readonly kind: 'direct-tls' }
  /** `key` is a copy (the caller's buffer is reused); `length` = 12 + key length. */
  | {
      readonly kind: 'cancel';
      readonly length: number;
      readonly pid: number;
      readonly key: Uint8Array;
    }
  /** A StartupMessage of protocol major.minor; only its 8-byte header has been checked. */
  | {
      readonly kind: 'startup';
      readonly length: number;
      readonly major: number;
      readonly minor: number;
    }
  | { readonly kind: 'invalid'; readonly reason: string };

function int32(buf: Uint8Array, at: number): number {
  return (buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3];
}

/**
 * Classifies the client's first message from `length` bytes at `buf[offset]` (fewer if the
 * buffer ends sooner). Never reads outside them; never throws.
 */
export function classifyStartup(
  buf: Uint8Array,
  offset: number,
  length: number,
): StartupMessageKind {
  if (!(offset >= 0) || !(length >= 0)) return { kind: 'invalid', reason: 'bad offset or length' };
  const available = Math.min(length, buf.length - offset);
  if (available < 1) return { kind: 'incomplete', needed: 8 };
  if (buf[offset] === TLS_HANDSHAKE) return { kind: 'direct-tls' };
  if (available < 8) return { kind: 'incomplete', needed: 8 };
  const size = int32(buf, offset);
  const code = int32(buf, offset + 4);
  if (size < 8 || size > MAX_STARTUP_LENGTH)
    return {
      kind: 'invalid',
      reason: `startup packet length ${size} is not within 8..${MAX_STARTUP_LENGTH}`,
    };
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
    if (size !== 8)
      return {
        kind: 'invalid',
        reason: `${code === SSL_REQUEST_CODE ? 'SSLRequest' : 'GSSENCRequest'} of length ${size}, not 8`,
      };
    return code === SSL_REQUEST_CODE
      ? { kind: 'ssl-request', length: 8 }
      : { kind: 'gssenc-request', length: 8 };
  }
  if (code === CANCEL_REQUEST_CODE) {
    const keyLength = size - 12;
    if (keyLength < 4 || keyLength > MAX_CANCEL_KEY_LENGTH)
      return {
        kind: 'invalid',
        reason: `CancelRequest with a ${keyLength}-byte key (4..${MAX_CANCEL_KEY_LENGTH} allowed)`,
      };
    if (available < size) return { kind: 'incomplete', needed: size };
    // A copy (Buffer#slice would be a view of the caller's reused buffer).
    const key = new Uint8Array(keyLength);
    key.set(buf.subarray(offset + 12, offset + size));
    return { kind: 'cancel', length: size, pid: int32(buf, offset + 8), key };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major === 1234) return { kind: 'invalid', reason: `unknown request code 1234.${minor}` };
  if (major !== 3) return { kind: 'invalid', reason: `unsupported protocol ${major}.${minor}` };
  return { kind: 'startup', length: size, major, minor };
}
