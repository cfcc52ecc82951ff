/** twemproxy's hash names, as a pool's `hash:` key spells them. */
export const HASH_NAMES = [
  'one_at_a_time',
  'md5',
  'crc16',
  'crc32',
  'crc32a',
  'fnv1_64',
  'fnv1a_64',
  'fnv1_32',
  'fnv1a_32',
  'hsieh',
  'murmur',
  'jenkins',
] as const;

export type HashName = (typeof HASH_NAMES)[number];

/**
 * Hashes `buf[start, end)` to an unsigned 32-bit integer, byte-exact with nutcracker 0.5.0.
 * Takes a range so the hot path hashes a key where it lies in the request buffer, without a copy.
 */
export type HashFn = (buf: Uint8Array, start: number, end: number) => number;
