import { keep, keptAt } from '../net/kept-bytes.ts';
import type { RequestSlot } from './request-slot.ts';
import { errorReply, integerReply, OK } from './resp/encode.ts';
import { parseIntBytes } from './resp/integer.ts';
import { ReplyScanner } from './resp/reply-scanner.ts';
import type { ReplyWaiter } from './shard/reply-waiter.ts';

/** How the parts' replies become the client's one reply. */
export const MERGE_ARRAY = 0; // MGET: elements re-joined in key order
export const MERGE_SUM = 1; // DEL, UNLINK, TOUCH, EXISTS, DBSIZE: integers summed
export const MERGE_OK = 2; // MSET: +OK once every part said +OK
export const MERGE_KEYSPACE = 3; // INFO keyspace: db lines summed, handed to `finish`
export type MergeKind = 0 | 1 | 2 | 3;

/** One shard's share of a fan-out; its reply is kept (copied) until all parts have answered. */
class FanoutPart implements ReplyWaiter {
  readonly #fanout: Fanout;
  buf: Buffer | null = null;
  start = 0;
  end = 0;
  constructor(fanout: Fanout) {
    this.#fanout = fanout;
  }
  complete(buf: Buffer, start: number, end: number): void {
    // Kept until every part is in: a copy, as the read buffer is reused by the next read.
    this.buf = keep(buf, start, end);
    this.start = keptAt;
    this.end = keptAt + (end - start);
    this.#fanout.partDone();
  }
}

/**
 * A command split over several shards: MGET/MSET/DEL/UNLINK/TOUCH/EXISTS by key, DBSIZE and INFO
 * to every shard. The first error reply among the parts (in part order) becomes the reply.
 */
export class Fanout {
  readonly parts: FanoutPart[] = [];
  readonly #slot: RequestSlot;
  readonly #merge: MergeKind;
  /** For MERGE_ARRAY: for each key in request order, its part and its index within the part. */
  readonly #keyPart: Int32Array | null;
  readonly #keyIndex: Int32Array | null;
  readonly #finish: ((keyspace: Keyspace) => Buffer) | null;
  #remaining = 0;

  constructor(
    slot: RequestSlot,
    merge: MergeKind,
    keyPart: Int32Array | null = null,
    keyIndex: Int32Array | null = null,
    finish: ((keyspace: Keyspace) => Buffer) | null = null,
  ) {
    this.#slot = slot;
    this.#merge = merge;
    this.#keyPart = keyPart;
    this.#keyIndex = keyIndex;
    this.#finish = finish;
  }

  addPart(): ReplyWaiter {
    const part = new FanoutPart(this);
    this.parts.push(part);
    this.#remaining++;
    return part;
  }

  partDone(): void {
    if (--this.#remaining > 0) return;
    this.#slot.answer(this.#merged());
  }

  #merged(): Buffer {
    if (this.#merge === MERGE_KEYSPACE) {
      // INFO stays answerable with a shard down: its keyspace counts what the others hold.
      const ok = this.parts.filter((p) => p.buf !== null && p.buf[p.start] !== 45 /* - */);
      return this.#finish!(sumKeyspace(ok.map((p) => p.buf!.toString('latin1', p.start, p.end))));
    }
    for (const p of this.parts) {
      if (p.buf === null) return errorReply('ERR fan-out part lost');
      if (p.buf[p.start] === 45 /* - */) return p.buf.subarray(p.start, p.end);
    }
    switch (this.#merge) {
      case MERGE_ARRAY:
        return this.#joinArrays();
      case MERGE_SUM: {
        let sum = 0;
        for (const p of this.parts) {
          const n =
            p.buf![p.start] === 58 /* : */
              ? parseIntBytes(p.buf!, p.start + 1, p.end - 2)
              : Number.NaN;
          if (!(n >= 0)) return errorReply('ERR unexpected reply from shard in fan-out');
          sum += n;
        }
        return integerReply(sum);
      }
      default:
        return OK;
    }
  }

  #joinArrays(): Buffer {
    const keyPart = this.#keyPart!;
    const keyIndex = this.#keyIndex!;
    const scanner = new ReplyScanner();
    // Element boundaries of each part's array reply: [start0, end0, start1, end1, ...].
    const bounds: number[][] = [];
    let size = 0;
    for (const p of this.parts) {
      const buf = p.buf!;
      if (buf[p.start] !== 42 /* * */)
        return errorReply('ERR unexpected reply from shard in fan-out');
      const b: number[] = [];
      let pos = buf.indexOf(10, p.start) + 1;
      while (pos < p.end) {
        const end = scanner.scan(buf, pos, p.end);
        if (end < 0) return errorReply('ERR unexpected reply from shard in fan-out');
        b.push(pos, end);
        size += end - pos;
        pos = end;
      }
      bounds.push(b);
    }
    const head = `*${keyPart.length}\r\n`;
    const out = Buffer.allocUnsafe(head.length + size);
    let pos = out.write(head, 0, 'latin1');
    for (let k = 0; k < keyPart.length; k++) {
      const part = this.parts[keyPart[k]];
      const b = bounds[keyPart[k]];
      const i = keyIndex[k] * 2;
      if (i + 1 >= b.length) return errorReply('ERR unexpected reply from shard in fan-out');
      pos += part.buf!.copy(out, pos, b[i], b[i + 1]);
    }
    return out.subarray(0, pos);
  }
}

/** Sums `dbN:keys=…,expires=…,avg_ttl=…` lines of several INFO keyspace replies. */
export type Keyspace = Map<string, { keys: number; expires: number }>;

export function sumKeyspace(replies: readonly string[]): Keyspace {
  const dbs: Keyspace = new Map();
  for (const r of replies) {
    for (const m of r.matchAll(/^(db\d+):keys=(\d+),expires=(\d+)/gm)) {
      const db = dbs.get(m[1]) ?? { keys: 0, expires: 0 };
      db.keys += Number(m[2]);
      db.expires += Number(m[3]);
      dbs.set(m[1], db);
    }
  }
  return dbs;
}
