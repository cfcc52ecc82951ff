const EMPTY = Buffer.alloc(0);

/**
 * Holds the unparsed tail of a connection's input across reads. A read is parsed where it landed
 * (the thread's read buffer, no copy); only what is left unparsed is copied, into a buffer that
 * grows by doubling, so a 10 MB value costs O(n), not O(n^2). A buffer of ours is never
 * overwritten once a slice of it may have been handed on, so such slices stay valid.
 */
export class InputBuffer {
  /** The bytes to parse: buf[0, length). */
  buf: Buffer = EMPTY;
  length = 0;
  /** buf is ours (not the shared read buffer). */
  #owned = false;

  /** Appends chunk[0, n) just read. */
  push(chunk: Buffer, n: number): void {
    if (this.length === 0) {
      this.buf = chunk;
      this.length = n;
      this.#owned = false;
      return;
    }
    const need = this.length + n;
    if (!this.#owned || need > this.buf.length) {
      const grown = Buffer.allocUnsafe(
        Math.max(need, this.#owned ? this.buf.length * 2 : need * 2, 16384),
      );
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
      this.#owned = true;
    }
    chunk.copy(this.buf, this.length, 0, n);
    this.length = need;
  }

  /**
   * Drops the first `consumed` bytes. The rest moves to a fresh buffer (slices of the old one
   * may still be queued for writing, and the read buffer is reused by the next read), so
   * parsers must rebase by `consumed`.
   */
  consume(consumed: number): void {
    const rest = this.length - consumed;
    if (rest === 0) {
      this.buf = EMPTY;
      this.length = 0;
      this.#owned = false;
      return;
    }
    if (consumed === 0 && this.#owned) return;
    const next = Buffer.allocUnsafe(Math.max(rest * 2, 16384));
    this.buf.copy(next, 0, consumed, this.length);
    this.buf = next;
    this.length = rest;
    this.#owned = true;
  }
}
