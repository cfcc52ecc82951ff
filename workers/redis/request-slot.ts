import { keep, keptAt } from '../net/kept-bytes.ts';
import { READ_BUFFER } from '../net/stream.ts';
import type { ReplyWaiter } from './shard/reply-waiter.ts';

/** Hands a finished reply to whoever keeps the client's order (the session). */
export interface ReplyQueue {
  replyReady(): void;
}

/**
 * One client request's place in the client's reply order. Filled by a shard's reply, a fan-out's
 * merged reply, or a reply legate makes; the session writes replies strictly in request order.
 */
export class RequestSlot implements ReplyWaiter {
  readonly #queue: ReplyQueue;
  buf: Buffer | null = null;
  start = 0;
  end = 0;
  /** The session has queued the reply for writing. */
  written = false;

  constructor(queue: ReplyQueue) {
    this.#queue = queue;
  }

  complete(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.#queue.replyReady();
    // Held behind an earlier request: keep the bytes, as the read buffer is reused by the next read.
    if (!this.written && buf === READ_BUFFER) {
      this.buf = keep(buf, start, end);
      this.start = keptAt;
      this.end = keptAt + (end - start);
    }
  }

  /** Completes with a reply legate made itself. */
  answer(reply: Buffer): void {
    this.complete(reply, 0, reply.length);
  }
}
