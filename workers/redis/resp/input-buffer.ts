/**
 * Holds the unparsed tail of a socket's input across reads. A complete message is handed on as a
 * slice of the chunk it arrived in (no copy); only a message split across reads is copied, into
 * a buffer that grows by doubling, so a 10 MB value costs O(n), not O(n^2).
 * The buffer is never overwritten once a slice of it may have been handed on.
 */
export class InputBuffer {
  /** The bytes to parse: buf[0, length). */
  buf: Buffer = Buffer.alloc(0);
  length = 0;
  #owned = false;

  /** Appends a chunk read from the socket; returns the buffer to parse from offset 0. */
  push(chunk: Buffer): void {
    if (this.length === 0) {
      this.buf = chunk;
      this.length = chunk.length;
      this.#owned = false;
      return;
    }
    const need = this.length + chunk.length;
    if (!this.#owned || need > this.buf.length) {
      const grown = Buffer.allocUnsafe(
        Math.max(need, this.#owned ? this.buf.length * 2 : need * 2, 16384),
      );
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
      this.#owned = true;
    }
    chunk.copy(this.buf, this.length);
    this.length = need;
  }

  /**
   * Drops the first `consumed` bytes. The rest moves to a fresh buffer (slices of the old one
   * may still be queued for writing), so parsers must rebase by `consumed`.
   */
  consume(consumed: number): void {
    const rest = this.length - consumed;
    if (rest === 0) {
      this.buf = Buffer.alloc(0);
      this.length = 0;
      this.#owned = false;
      return;
    }
    if (consumed === 0) return;
    const next = Buffer.allocUnsafe(Math.max(rest * 2, 16384));
    this.buf.copy(next, 0, consumed, this.length);
    this.buf = next;
    this.length = rest;
    this.#owned = true;
  }
}
