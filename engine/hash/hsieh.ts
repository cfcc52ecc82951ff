import type { HashFn } from './types.ts';

/**
 * Paul Hsieh's SuperFastHash as twemproxy has it. Bytes are read unsigned everywhere except the
 * third byte of a 3-byte tail, which the C code reads as `key[2]` through a signed
 * `const char *`: that one byte is sign-extended before the `<< 18`. An empty key is 0.
 */
export const hsieh: HashFn = (buf, start, end) => {
  const len = end - start;
  if (len <= 0) return 0;
  const rem = len & 3;
  const wordsEnd = end - rem;
  let h = 0;
  let i = start;
  for (; i < wordsEnd; i += 4) {
    h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
    const tmp = ((buf[i + 2] | (buf[i + 3] << 8)) << 11) ^ h;
    h = (h << 16) ^ tmp;
    h = (h + (h >>> 11)) | 0;
  }
  if (rem === 3) {
    h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
    h ^= h << 16;
    h ^= ((buf[i + 2] << 24) >> 24) << 18;
    h = (h + (h >>> 11)) | 0;
  } else if (rem === 2) {
    h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
    h ^= h << 11;
    h = (h + (h >>> 17)) | 0;
  } else if (rem === 1) {
    h = (h + buf[i]) | 0;
    h ^= h << 10;
    h = (h + (h >>> 1)) | 0;
  }
  h ^= h << 3;
  h = (h + (h >>> 5)) | 0;
  h ^= h << 4;
  h = (h + (h >>> 17)) | 0;
  h ^= h << 25;
  h = (h + (h >>> 6)) | 0;
  return h >>> 0;
};
