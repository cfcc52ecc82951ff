import type { HashFn } from './types.ts';

const M = 0x5bd1e995;

/**
 * MurmurHash2 as twemproxy has it: the seed is derived from the length (`0xdeadbeef * len`,
 * wrapping in 32 bits), words are read little-endian (x86), and bytes are unsigned.
 */
export const murmur: HashFn = (buf, start, end) =>
  murmurHash2(buf, start, end, Math.imul(0xdeadbeef, end - start));

/** MurmurHash2 with a given seed (nginx's ngx_murmur_hash2 uses 0; split_clients hashes with it). */
export function murmurHash2(buf: Uint8Array, start: number, end: number, seed: number): number {
  const len = end - start;
  let h = seed ^ len;
  let i = start;
  const wordsEnd = end - ((end - start) & 3);
  for (; i < wordsEnd; i += 4) {
    let k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rem = end - i;
  if (rem > 0) {
    if (rem === 3) h ^= buf[i + 2] << 16;
    if (rem >= 2) h ^= buf[i + 1] << 8;
    h = Math.imul(h ^ buf[i], M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h >>> 0;
}
