/** Whoever waits for a shard's reply: a client request, a part of a fan-out, a handshake step. */
export interface ReplyWaiter {
  /**
   * The reply is buf[start, end): the shard's own bytes, or an error reply legate wrote when no
   * reply will come (timeout, connection lost). Called exactly once.
   */
  complete(buf: Buffer, start: number, end: number): void;
}

/** Completes a waiter with an error reply legate made. */
export function fail(waiter: ReplyWaiter, error: Buffer): void {
  waiter.complete(error, 0, error.length);
}
