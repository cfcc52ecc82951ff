import type { RedisPoolConfig } from '../config/types.ts';
import { hashKey } from '../hash/hash-tag.ts';
import { hashFunction } from '../hash/index.ts';
import type { HashFn } from '../hash/types.ts';
import type { RingReader } from '../shared/ring-memory.ts';

/**
 * Where a key lives in one pool: applies the pool's hash_tag and hash to the key bytes in place,
 * then looks the hash up in the pool's shared ring. Used by the data plane and `legate locate`.
 */
export class KeyLocator {
  readonly #hash: HashFn;
  readonly #tagOpen: number;
  readonly #tagClose: number;
  readonly #single: boolean;
  readonly #ring: RingReader;

  constructor(pool: RedisPoolConfig, ring: RingReader) {
    this.#hash = hashFunction(pool.hash);
    this.#tagOpen = pool.hashTag === null ? -1 : pool.hashTag.charCodeAt(0);
    this.#tagClose = pool.hashTag === null ? -1 : pool.hashTag.charCodeAt(1);
    this.#single = pool.servers.length === 1;
    this.#ring = ring;
  }

  /** Server index (into pool.servers) for the key in buf[start, end), or NO_SERVER. */
  locate(buf: Uint8Array, start: number, end: number): number {
    // twemproxy hashes nothing for a one-server pool.
    if (this.#single) return this.#ring.serverFor(0);
    return this.#ring.serverFor(
      hashKey(this.#hash, buf, start, end, this.#tagOpen, this.#tagClose),
    );
  }
}
