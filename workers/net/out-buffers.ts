import { releaseIdleMemory } from '../../engine/release-memory.ts';

/**
 * Output buffers lent to streams for one turn's writes and taken back once written, so that an
 * idle connection holds none and a busy one does not allocate one per turn.
 */
const SIZE = 16 * 1024;
/** Enough for every connection that writes in one turn on a busy worker; the rest are dropped. */
const KEEP = 256;
/**
 * A pool not drawn on for this long means the thread has written nothing since: the load ended.
 * The pool is dropped (up to KEEP × 16 KB = 4 MB a thread; the next load refills it in a few
 * turns) and the heap given back (engine/release-memory.ts), once per load.
 */
const IDLE_RELEASE_MS = 5000;
const free: Buffer[] = [];
let taken = false;
let sweeper: NodeJS.Timeout | null = null;

/** A buffer of at least `n` bytes. */
export function takeOut(n: number): Buffer {
  taken = true;
  if (n <= SIZE) return free.pop() ?? Buffer.allocUnsafeSlow(SIZE);
  return Buffer.allocUnsafeSlow(n);
}

/** Gives a buffer back; only the standard size is kept. */
export function releaseOut(buf: Buffer): void {
  if (buf.length === SIZE && free.length < KEEP) {
    free.push(buf);
    if (sweeper === null) sweeper = setInterval(sweep, IDLE_RELEASE_MS).unref();
  }
}

function sweep(): void {
  if (taken) {
    taken = false;
    return;
  }
  free.length = 0;
  clearInterval(sweeper as NodeJS.Timeout);
  sweeper = null;
  releaseIdleMemory();
}
