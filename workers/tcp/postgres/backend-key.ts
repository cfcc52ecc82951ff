// Reads a session's BackendKeyData from what the server sends, chunk by chunk, without
// buffering: message headers split across chunks are assembled in a few integer fields, bodies
// other than BackendKeyData are skipped by count, and only the key bytes are copied out.
import { MAX_CANCEL_KEY_LENGTH } from './startup.ts';

/**
 * scanning: still reading the startup reply.
 * ready: ReadyForQuery seen (the key, if the server sent one, is in `pid`/`key`).
 * refused: an ErrorResponse came before ReadyForQuery (no session, no key).
 * encrypted: the server agreed to TLS ('S') or GSS encryption ('G'), or answered a direct TLS
 *   handshake: the rest is unreadable.
 * invalid: the bytes are not PostgreSQL's message framing.
 */
export type KeyScanStatus = 'scanning' | 'ready' | 'refused' | 'encrypted' | 'invalid';

const BYTE_N = 0x4e;
const BYTE_S = 0x53;
const BYTE_G = 0x47;
const TLS_HANDSHAKE = 0x16;
const TYPE_K = 0x4b;
const TYPE_Z = 0x5a;
const TYPE_E = 0x45;

/** Where the scanner is in the byte stream. */
const FIRST = 0; // before the first message: an answer to SSLRequest/GSSENCRequest may come
const TYPE = 1;
const LENGTH = 2;
const BODY = 3;

export class BackendKeyScanner {
  status: KeyScanStatus = 'scanning';
  /** The backend's process id; meaningful once `key` is set. */
  pid = 0;
  /** The secret key (4 bytes in protocol 3.0, up to 256 in 3.2); null until read whole. */
  key: Uint8Array | null = null;
  /** Why the status is `invalid`. */
  reason = '';

  private phase = FIRST;
  private type = 0;
  private lengthValue = 0;
  private lengthBytes = 0;
  private remaining = 0;
  private bodyAt = 0;
  private pidValue = 0;
  private keyBytes: Uint8Array | null = null;

  /** Whether there is nothing more to learn from this session's bytes. */
  get done(): boolean {
    return this.status !== 'scanning';
  }

  /**
   * Feeds `length` bytes at `buf[offset]` (fewer if the buffer ends sooner), the next bytes
   * the server sent. Returns the status; once it is not `scanning`, later bytes are ignored.
   */
  feed(buf: Uint8Array, offset: number, length: number): KeyScanStatus {
    if (this.status !== 'scanning') return this.status;
    let i = Math.max(offset, 0);
    const end = Math.min(offset + length, buf.length);
    while (i < end) {
      if (this.phase === FIRST) {
        const b = buf[i];
        // 'N' refuses encryption; the client then goes on in plaintext (or asks again).
        if (b === BYTE_N) {
          i++;
          continue;
        }
        if (b === BYTE_S || b === BYTE_G || b === TLS_HANDSHAKE) return this.finish('encrypted');
        this.phase = TYPE;
      } else if (this.phase === TYPE) {
        this.type = buf[i++];
        this.lengthValue = 0;
        this.lengthBytes = 0;
        this.phase = LENGTH;
      } else if (this.phase === LENGTH) {
        this.lengthValue = ((this.lengthValue << 8) | buf[i++]) >>> 0;
        if (++this.lengthBytes < 4) continue;
        if (this.type === TYPE_Z) return this.finish('ready');
        if (this.type === TYPE_E) return this.finish('refused');
        if (this.lengthValue < 4 || this.lengthValue > 0x3fffffff)
          return this.invalid(
            `message '${String.fromCharCode(this.type)}' has length ${this.lengthValue}`,
          );
        this.remaining = this.lengthValue - 4;
        this.bodyAt = 0;
        if (this.type === TYPE_K) {
          const keyLength = this.remaining - 4;
          if (keyLength < 4 || keyLength > MAX_CANCEL_KEY_LENGTH)
            return this.invalid(`BackendKeyData with a ${keyLength}-byte key`);
          this.keyBytes = new Uint8Array(keyLength);
          this.pidValue = 0;
        }
        this.phase = this.remaining === 0 ? TYPE : BODY;
      } else if (this.type === TYPE_K) {
        const b = buf[i++];
        if (this.bodyAt < 4) this.pidValue = (this.pidValue << 8) | b;
        else this.keyBytes![this.bodyAt - 4] = b;
        this.bodyAt++;
        if (--this.remaining === 0) {
          this.pid = this.pidValue;
          this.key = this.keyBytes;
          this.phase = TYPE;
        }
      } else {
        const n = Math.min(this.remaining, end - i);
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.phase = TYPE;
      }
    }
    return this.status;
  }

  private finish(status: KeyScanStatus): KeyScanStatus {
    this.status = status;
    return status;
  }

  private invalid(reason: string): KeyScanStatus {
    this.reason = reason;
    return this.finish('invalid');
  }
}
