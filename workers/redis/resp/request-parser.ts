/**
 * Finds the end, the arguments and their byte ranges of each client request, in place: RESP
 * arrays of bulk strings, and inline commands as Redis accepts them. Resumable: when a request is
 * incomplete it keeps what it has scanned, so a large request split over many reads is scanned once.
 * Hot path: no allocation for RESP requests (inline ones are rare and are re-encoded).
 */

import { parseIntBytes } from './integer.ts';
import { indexOfLf } from './reply-scanner.ts';

export const INCOMPLETE = 0;
export const COMPLETE = 1;
/** An empty request (`*0`, a blank inline line): consumed, nothing to answer. */
export const EMPTY = 2;
export const PROTOCOL_ERROR = -1;

export interface RequestLimits {
  /** Largest bulk string accepted, in bytes (Redis's proto-max-bulk-len). */
  readonly maxBulkBytes: number;
  /** Most arguments in one request. */
  readonly maxArgs: number;
  /** Longest inline command or length line, in bytes. */
  readonly maxInlineBytes: number;
  /** Largest whole request (all its arguments), in bytes: legate's max_request_bytes. */
  readonly maxRequestBytes: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  maxBulkBytes: 512 * 1024 * 1024,
  maxArgs: 1024 * 1024,
  maxInlineBytes: 64 * 1024,
  maxRequestBytes: 512 * 1024 * 1024,
};

const CR = 13;
const LF = 10;

/**
 * Argument offsets of the request being parsed and dispatched, shared by every parser of the
 * worker: parsing and dispatch run to completion one request at a time, so an idle connection
 * holds no arrays of its own (a request split across reads keeps a private copy meanwhile).
 */
const SHARED = { start: new Int32Array(64), end: new Int32Array(64) };

export class RequestParser {
  /** Arguments of the last complete request: buf[argStart[i], argEnd[i]). */
  argc = 0;
  argStart: Int32Array = SHARED.start;
  argEnd: Int32Array = SHARED.end;
  /** Offset just past the last complete request. */
  end = 0;
  /** For an inline request, its RESP encoding: the args point into it, not into the input. */
  inline: Buffer | null = null;
  /** After PROTOCOL_ERROR: what was wrong, Redis's wording. */
  error = '';

  readonly #limits: RequestLimits;
  // Resume state, relative to the request's first byte.
  #wanted = -1;
  #scan = 0;
  /** argStart/argEnd are this parser's own (a request split across reads), not the shared ones. */
  #private = false;

  constructor(limits: RequestLimits = DEFAULT_LIMITS) {
    this.#limits = limits;
  }

  /** Forgets a partial request (after an error, or when the session ends). */
  reset(): void {
    this.#wanted = -1;
    this.#scan = 0;
    this.argc = 0;
  }

  /** Parses one request starting at buf[start], with buf valid up to `length`. */
  parse(buf: Buffer, start: number, length: number): number {
    this.inline = null;
    if (start >= length) return INCOMPLETE;
    if (buf[start] !== 42 /* '*' */) return this.#parseInline(buf, start, length);
    if (this.#wanted < 0) {
      const lineEnd = this.#findLineEnd(buf, start, length);
      if (lineEnd === -1) return INCOMPLETE;
      // A count line ended by a bare LF is not a number, as Redis reads it.
      if (lineEnd === -3) return this.#fail('invalid multibulk length');
      if (lineEnd < 0) return this.#fail('too big mbulk count string');
      const n = parseIntBytes(buf, start + 1, lineEnd);
      if (!(n >= -1 && n <= this.#limits.maxArgs)) {
        return this.#fail('invalid multibulk length');
      }
      if (n <= 0) {
        this.end = lineEnd + 2;
        return EMPTY;
      }
      this.#wanted = n;
      this.argc = 0;
      this.#scan = lineEnd + 2 - start;
      this.#useShared(n);
    }
    let pos = start + this.#scan;
    while (this.argc < this.#wanted) {
      if (pos >= length) break;
      if (buf[pos] !== 36 /* '$' */) {
        return this.#fail(`expected '$', got '${String.fromCharCode(buf[pos])}'`);
      }
      const lineEnd = this.#findLineEnd(buf, pos, length);
      if (lineEnd === -1) break;
      if (lineEnd === -3) return this.#fail('invalid bulk length');
      if (lineEnd < 0) return this.#fail('too big bulk count string');
      const len = parseIntBytes(buf, pos + 1, lineEnd);
      if (!(len >= 0 && len <= this.#limits.maxBulkBytes)) return this.#fail('invalid bulk length');
      const dataStart = lineEnd + 2;
      if (dataStart + len - start > this.#limits.maxRequestBytes) {
        return this.#fail(
          `request larger than max_request_bytes (${this.#limits.maxRequestBytes})`,
        );
      }
      if (dataStart + len + 2 > length) break;
      if (buf[dataStart + len] !== CR || buf[dataStart + len + 1] !== LF) {
        return this.#fail('bulk string not terminated by CRLF');
      }
      // Relative while incomplete: the input may move to another buffer before the rest arrives.
      this.argStart[this.argc] = dataStart - start;
      this.argEnd[this.argc] = dataStart + len - start;
      this.argc++;
      pos = dataStart + len + 2;
    }
    this.#scan = pos - start;
    if (this.argc < this.#wanted) {
      this.#keepPrivate();
      return INCOMPLETE;
    }
    for (let i = 0; i < this.argc; i++) {
      this.argStart[i] += start;
      this.argEnd[i] += start;
    }
    this.end = pos;
    this.#wanted = -1;
    this.#scan = 0;
    return COMPLETE;
  }

  /** Starts a request on the worker's shared offset arrays, grown to hold `n` arguments. */
  #useShared(n: number): void {
    if (SHARED.start.length < n) {
      const size = Math.max(n, SHARED.start.length * 2);
      SHARED.start = new Int32Array(size);
      SHARED.end = new Int32Array(size);
    }
    this.argStart = SHARED.start;
    this.argEnd = SHARED.end;
    this.#private = false;
  }

  /** A request waits for more bytes: its offsets so far move to arrays of its own. */
  #keepPrivate(): void {
    if (this.#private) return;
    this.argStart = this.argStart.slice(0, this.#wanted);
    this.argEnd = this.argEnd.slice(0, this.#wanted);
    this.#private = true;
  }

  /** Index of the CR of the line starting at `from`; -1 when not there yet; -2 when too long. */
  #findLineEnd(buf: Buffer, from: number, length: number): number {
    const limit = Math.min(length, from + this.#limits.maxInlineBytes);
    const i = indexOfLf(buf, from, Math.min(limit + 1, length));
    if (i === -1) return length - from >= this.#limits.maxInlineBytes ? -2 : -1;
    if (i > limit) return -2;
    if (i === from || buf[i - 1] !== CR) return -3;
    return i - 1;
  }

  #fail(message: string): number {
    this.error = `Protocol error: ${message}`;
    this.reset();
    return PROTOCOL_ERROR;
  }

  /** Inline command: split like Redis's sdssplitargs, then re-encode as RESP so one path serves both. */
  #parseInline(buf: Buffer, start: number, length: number): number {
    const nl = indexOfLf(buf, start, length);
    if (nl === -1) {
      return length - start > this.#limits.maxInlineBytes
        ? this.#fail('too big inline request')
        : INCOMPLETE;
    }
    if (nl - start > this.#limits.maxInlineBytes) return this.#fail('too big inline request');
    const lineEnd = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
    const args = splitInlineArgs(buf.subarray(start, lineEnd));
    this.end = nl + 1;
    if (args === null) return this.#fail('unbalanced quotes in request');
    if (args.length === 0) return EMPTY;
    if (args.length > this.#limits.maxArgs) return this.#fail('invalid multibulk length');
    const encoded = encodeCommand(args);
    this.#useShared(args.length);
    let pos = encoded.indexOf(LF) + 1;
    for (let i = 0; i < args.length; i++) {
      pos = encoded.indexOf(LF, pos) + 1;
      this.argStart[i] = pos;
      this.argEnd[i] = pos + args[i].length;
      pos += args[i].length + 2;
    }
    this.argc = args.length;
    this.inline = encoded;
    return COMPLETE;
  }
}

/** Encodes arguments as a RESP array of bulk strings. */
export function encodeCommand(args: readonly Uint8Array[]): Buffer {
  let size = 1 + String(args.length).length + 2;
  for (const a of args) size += 1 + String(a.length).length + 2 + a.length + 2;
  const out = Buffer.allocUnsafe(size);
  let pos = out.write(`*${args.length}\r\n`, 0, 'latin1');
  for (const a of args) {
    pos += out.write(`$${a.length}\r\n`, pos, 'latin1');
    out.set(a, pos);
    pos += a.length;
    out[pos++] = CR;
    out[pos++] = LF;
  }
  return out;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const ESCAPES: Readonly<Record<number, number>> = { 110: 10, 114: 13, 116: 9, 98: 8, 97: 7 };

/** Redis's sdssplitargs: spaces separate, "double quotes" with \n \xHH escapes, 'single quotes' with \'. */
export function splitInlineArgs(line: Uint8Array): Buffer[] | null {
  const args: Buffer[] = [];
  let p = 0;
  const n = line.length;
  for (;;) {
    while (p < n && isSpace(line[p])) p++;
    if (p >= n) return args;
    const cur: number[] = [];
    let inDq = false;
    let inSq = false;
    for (;;) {
      if (inDq) {
        if (p >= n) return null;
        const c = line[p];
        if (
          c === 92 /* \ */ &&
          p + 3 < n &&
          line[p + 1] === 120 &&
          hexValue(line[p + 2]) >= 0 &&
          hexValue(line[p + 3]) >= 0
        ) {
          cur.push(hexValue(line[p + 2]) * 16 + hexValue(line[p + 3]));
          p += 3;
        } else if (c === 92 && p + 1 < n) {
          p++;
          cur.push(ESCAPES[line[p]] ?? line[p]);
        } else if (c === 34 /* " */) {
          if (p + 1 < n && !isSpace(line[p + 1])) return null;
          inDq = false;
          p++;
          break;
        } else cur.push(c);
      } else if (inSq) {
        if (p >= n) return null;
        const c = line[p];
        if (c === 92 && p + 1 < n && line[p + 1] === 39) {
          p++;
          cur.push(39);
        } else if (c === 39) {
          if (p + 1 < n && !isSpace(line[p + 1])) return null;
          inSq = false;
          p++;
          break;
        } else cur.push(c);
      } else {
        if (p >= n) break;
        const c = line[p];
        if (isSpace(c)) break;
        if (c === 34) inDq = true;
        else if (c === 39) inSq = true;
        else cur.push(c);
      }
      p++;
    }
    args.push(Buffer.from(cur));
  }
}
