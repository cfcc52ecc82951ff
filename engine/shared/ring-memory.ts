import type { Distribution } from '../config/types.ts';
import type { Continuum } from '../ring/continuum.ts';

/**
 * One pool's ring in a SharedArrayBuffer, double-buffered so that the main thread can publish a
 * new generation while workers keep reading the old one.
 *
 *   Int32  header [VERSION, COUNT0, COUNT1, DISTRIBUTION, CAPACITY, -, -, -]
 *   Uint32 points [slot 0: CAPACITY][slot 1: CAPACITY]
 *   Uint32 index  [slot 0: BUCKETS + 1][slot 1: BUCKETS + 1]
 *   Uint16 server [slot 0: CAPACITY][slot 1: CAPACITY]
 *
 * VERSION is the generation; its low bit names the slot readers use. The writer fills the other
 * slot, then bumps VERSION. A reader reads VERSION, looks up in that slot, and re-reads VERSION:
 * the writer only touches a slot after VERSION has moved past it, so a changed VERSION is the
 * only way a lookup can have seen a torn slot, and then it retries.
 *
 * `index` makes a ketama lookup O(1): for each of BUCKETS ranges of the hash space (by the top
 * bits), the position of the first point at or above the range's start.
 */
const VERSION = 0;
const COUNT0 = 1;
const DISTRIBUTION = 3;
const CAPACITY = 4;
const HEADER_BYTES = 32;
const BUCKET_BITS = 12;
const BUCKETS = 1 << BUCKET_BITS;
const BUCKET_SHIFT = 32 - BUCKET_BITS;
const INDEX_STRIDE = BUCKETS + 1;

const DISTRIBUTION_CODES: Readonly<Record<Distribution, number>> = {
  ketama: 0,
  modula: 1,
  random: 2,
};
const KETAMA = 0;
const MODULA = 1;

/** No live server: every key of the pool is unroutable until one returns. */
export const NO_SERVER = -1;

function views(sab: SharedArrayBuffer) {
  const header = new Int32Array(sab, 0, HEADER_BYTES / 4);
  const capacity = header[CAPACITY];
  const indexStart = HEADER_BYTES + 8 * capacity;
  return {
    header,
    capacity,
    points: new Uint32Array(sab, HEADER_BYTES, 2 * capacity),
    index: new Uint32Array(sab, indexStart, 2 * INDEX_STRIDE),
    servers: new Uint16Array(sab, indexStart + 8 * INDEX_STRIDE, 2 * capacity),
  };
}

/** Allocates a pool's ring memory, empty (generation 0, no server). */
export function allocateRing(distribution: Distribution, capacity: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(HEADER_BYTES + 8 * capacity + 8 * INDEX_STRIDE + 4 * capacity);
  const header = new Int32Array(sab, 0, HEADER_BYTES / 4);
  header[DISTRIBUTION] = DISTRIBUTION_CODES[distribution];
  header[CAPACITY] = capacity;
  return sab;
}

/** The main thread's side: the only writer of a ring. */
export class RingWriter {
  readonly sab: SharedArrayBuffer;
  readonly #v: ReturnType<typeof views>;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.#v = views(sab);
  }

  get generation(): number {
    return Atomics.load(this.#v.header, VERSION);
  }

  /** Writes the inactive slot, then switches readers to it; returns the new generation. */
  publish(continuum: Continuum): number {
    const { header, capacity, points, index, servers } = this.#v;
    const count = continuum.servers.length;
    if (count > capacity)
      throw new RangeError(`ring of ${count} entries exceeds capacity ${capacity}`);
    const version = Atomics.load(header, VERSION);
    const slot = (version + 1) & 1;
    points.set(continuum.points, slot * capacity);
    servers.set(continuum.servers, slot * capacity);
    const base = slot * INDEX_STRIDE;
    let p = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const start = b * 2 ** BUCKET_SHIFT;
      while (p < count && continuum.points[p] < start) p++;
      index[base + b] = p;
    }
    index[base + BUCKETS] = count;
    Atomics.store(header, COUNT0 + slot, count);
    Atomics.store(header, VERSION, version + 1);
    return version + 1;
  }
}

/** Any thread's side: maps a key hash to a server index. Hot path: no allocation, two atomic loads. */
export class RingReader {
  readonly #header: Int32Array;
  readonly #points: Uint32Array;
  readonly #index: Uint32Array;
  readonly #servers: Uint16Array;
  readonly #capacity: number;
  readonly #distribution: number;

  constructor(sab: SharedArrayBuffer) {
    const v = views(sab);
    this.#header = v.header;
    this.#points = v.points;
    this.#index = v.index;
    this.#servers = v.servers;
    this.#capacity = v.capacity;
    this.#distribution = v.header[DISTRIBUTION];
  }

  get generation(): number {
    return Atomics.load(this.#header, VERSION);
  }

  /** The server index for a key hash, or NO_SERVER when no server is live. */
  serverFor(hash: number): number {
    const header = this.#header;
    for (;;) {
      const version = Atomics.load(header, VERSION);
      const slot = version & 1;
      const count = header[COUNT0 + slot];
      let server = NO_SERVER;
      if (count > 0) {
        const base = slot * this.#capacity;
        if (this.#distribution === KETAMA) {
          // The first point >= hash lies between its bucket's first point and the next bucket's.
          const b = slot * INDEX_STRIDE + (hash >>> BUCKET_SHIFT);
          let i = this.#index[b];
          const end = this.#index[b + 1];
          while (i < end && this.#points[base + i] < hash) i++;
          server = this.#servers[base + (i >= count ? 0 : i)];
        } else if (this.#distribution === MODULA) {
          server = this.#servers[base + (hash % count)];
        } else {
          server = this.#servers[base + Math.floor(Math.random() * count)];
        }
      }
      if (Atomics.load(header, VERSION) === version) return server;
    }
  }
}
