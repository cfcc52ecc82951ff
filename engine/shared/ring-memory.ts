import type { Distribution } from '../config/types.ts';
import type { Continuum } from '../ring/continuum.ts';
import { ketamaSearch } from '../ring/ketama.ts';

/**
 * One pool's ring in a SharedArrayBuffer, double-buffered so that the main thread can publish a
 * new generation while workers keep reading the old one.
 *
 *   Int32 header  [GENERATION, ACTIVE, COUNT0, COUNT1, SEQ0, SEQ1, DISTRIBUTION, CAPACITY]
 *   Uint32 points [slot 0: CAPACITY][slot 1: CAPACITY]
 *   Uint16 server [slot 0: CAPACITY][slot 1: CAPACITY]
 *
 * Each slot carries a sequence number (odd while being written). A reader that finds the
 * sequence changed under it retries, so two publishes landing inside one lookup cannot hand it
 * a torn slot.
 */
const GENERATION = 0;
const ACTIVE = 1;
const COUNT0 = 2;
const SEQ0 = 4;
const DISTRIBUTION = 6;
const CAPACITY = 7;
const HEADER_BYTES = 32;

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
  return {
    header,
    capacity,
    points: new Uint32Array(sab, HEADER_BYTES, 2 * capacity),
    servers: new Uint16Array(sab, HEADER_BYTES + 8 * capacity, 2 * capacity),
  };
}

/** Allocates a pool's ring memory, empty (generation 0, no server). */
export function allocateRing(distribution: Distribution, capacity: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(HEADER_BYTES + 8 * capacity + 4 * capacity);
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
    return Atomics.load(this.#v.header, GENERATION);
  }

  /** Writes the inactive slot, then switches readers to it; returns the new generation. */
  publish(continuum: Continuum): number {
    const { header, capacity, points, servers } = this.#v;
    const count = continuum.servers.length;
    if (count > capacity)
      throw new RangeError(`ring of ${count} entries exceeds capacity ${capacity}`);
    const slot = 1 - Atomics.load(header, ACTIVE);
    Atomics.add(header, SEQ0 + slot, 1);
    points.set(continuum.points, slot * capacity);
    servers.set(continuum.servers, slot * capacity);
    Atomics.store(header, COUNT0 + slot, count);
    Atomics.add(header, SEQ0 + slot, 1);
    Atomics.store(header, ACTIVE, slot);
    return Atomics.add(header, GENERATION, 1) + 1;
  }
}

/** Any thread's side: maps a key hash to a server index. Hot path: no allocation. */
export class RingReader {
  readonly #header: Int32Array;
  readonly #points: Uint32Array;
  readonly #servers: Uint16Array;
  readonly #capacity: number;
  readonly #distribution: number;

  constructor(sab: SharedArrayBuffer) {
    const v = views(sab);
    this.#header = v.header;
    this.#points = v.points;
    this.#servers = v.servers;
    this.#capacity = v.capacity;
    this.#distribution = v.header[DISTRIBUTION];
  }

  get generation(): number {
    return Atomics.load(this.#header, GENERATION);
  }

  /** The server index for a key hash, or NO_SERVER when no server is live. */
  serverFor(hash: number): number {
    const header = this.#header;
    for (;;) {
      const slot = Atomics.load(header, ACTIVE);
      const seq = Atomics.load(header, SEQ0 + slot);
      if (seq & 1) continue;
      const count = header[COUNT0 + slot];
      let server = NO_SERVER;
      if (count > 0) {
        const base = slot * this.#capacity;
        if (this.#distribution === KETAMA) {
          server = this.#servers[ketamaSearch(this.#points, base, count, hash)];
        } else if (this.#distribution === MODULA) {
          server = this.#servers[base + (hash % count)];
        } else {
          server = this.#servers[base + Math.floor(Math.random() * count)];
        }
      }
      if (Atomics.load(header, SEQ0 + slot) === seq) return server;
    }
  }
}
