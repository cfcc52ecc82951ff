/**
 * Copies of bytes that must outlive the read they arrived in (a reply held behind an earlier
 * one, a fan-out part), packed one after another into shared chunks. A copy costs its bytes and
 * nothing else: `Buffer.copyBytesFrom` made a Buffer object per reply, about half of what the
 * pipelined path allocated (see README, Benchmarks). A chunk is never written twice, so a
 * range handed out stays valid as long as its holder keeps the chunk; the garbage collector
 * frees the chunk once no holder does.
 */
const CHUNK = 16 * 1024;
/** Larger copies get a buffer of their own, so that a chunk's tail is not wasted on them. */
const OWN = 1024;

// The first copy allocates the first chunk: a worker that never holds a reply holds no chunk.
let chunk = Buffer.alloc(0);
let used = CHUNK;

/** Where the last copy made by `keep` begins in the buffer it returned. */
export let keptAt = 0;

/** Copies src[start, end) and returns the buffer holding it; the copy begins at `keptAt`. */
export function keep(src: Buffer, start: number, end: number): Buffer {
  const n = end - start;
  if (n > OWN) {
    keptAt = 0;
    return Buffer.copyBytesFrom(src, start, n);
  }
  if (used + n > CHUNK) {
    chunk = Buffer.allocUnsafeSlow(CHUNK);
    used = 0;
  }
  src.copy(chunk, used, start, end);
  keptAt = used;
  used += n;
  return chunk;
}
