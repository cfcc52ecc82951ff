import { parseIntBytes } from './integer.ts';

/**
 * Finds where each RESP2 reply from a shard ends, including nested arrays, without decoding it:
 * replies are passed to clients as the shard's own bytes. Resumable, like the request parser,
 * so a large reply split over many reads is scanned once.
 */
export const REPLY_INCOMPLETE = -1;
export const REPLY_MALFORMED = -2;

const CR = 13;
const LF = 10;

export class ReplyScanner {
  // Resume state relative to the reply's first byte: how far scanned, and array elements still owed.
  #scan = 0;
  #owed: number[] = [];

  /** End offset of the reply starting at buf[start], REPLY_INCOMPLETE, or REPLY_MALFORMED. */
  scan(buf: Uint8Array, start: number, length: number): number {
    let pos = start + this.#scan;
    const owed = this.#owed;
    for (;;) {
      if (pos >= length) break;
      const type = buf[pos];
      const lf = indexOfLf(buf, pos, length);
      if (lf === -1) break;
      if (lf === pos || buf[lf - 1] !== CR) return this.#malformed();
      let next = lf + 1;
      if (type === 36 /* $ */) {
        const len = parseIntBytes(buf, pos + 1, lf - 1);
        if (!(len >= -1)) return this.#malformed();
        if (len >= 0) {
          next = lf + 1 + len + 2;
          if (next > length) break;
        }
      } else if (type === 42 /* * */) {
        const n = parseIntBytes(buf, pos + 1, lf - 1);
        if (!(n >= -1)) return this.#malformed();
        if (n > 0) {
          owed.push(n);
          pos = next;
          continue;
        }
      } else if (type !== 43 /* + */ && type !== 45 /* - */ && type !== 58 /* : */) {
        return this.#malformed();
      }
      pos = next;
      // One value done: it completes the innermost array's element, and maybe the arrays above it.
      while (owed.length > 0 && --owed[owed.length - 1] === 0) owed.pop();
      if (owed.length === 0) {
        this.#scan = 0;
        return pos;
      }
    }
    this.#scan = pos - start;
    return REPLY_INCOMPLETE;
  }

  reset(): void {
    this.#scan = 0;
    this.#owed.length = 0;
  }

  #malformed(): number {
    this.reset();
    return REPLY_MALFORMED;
  }
}

/**
 * The first LF in buf[from, end), or -1. A plain loop: RESP lines are a few bytes, where a call
 * into C++ (Buffer#indexOf) costs more than the scan, and it must not look past `end`.
 */
export function indexOfLf(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === LF) return i;
  return -1;
}
