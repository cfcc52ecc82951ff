/**
 * Output buffers lent to streams for one turn's writes and taken back once written, so that an
 * idle connection holds none and a busy one does not allocate one per turn.
 */
const SIZE = 16 * 1024;
/** Enough for every connection that writes in one turn on a busy worker; the rest are dropped. */
const KEEP = 256;
const free: Buffer[] = [];

/** A buffer of at least `n` bytes. */
export function takeOut(n: number): Buffer {
  if (n <= SIZE) return free.pop() ?? Buffer.allocUnsafeSlow(SIZE);
  return Buffer.allocUnsafeSlow(n);
}

/** Gives a buffer back; only the standard size is kept. */
export function releaseOut(buf: Buffer): void {
  if (buf.length === SIZE && free.length < KEEP) free.push(buf);
}
