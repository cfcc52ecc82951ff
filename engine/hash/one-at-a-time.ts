import type { HashFn } from './types.ts';

/**
 * Jenkins' one-at-a-time. twemproxy adds each byte as `(uint32_t)*ptr` with `ptr` a signed
 * `const char *`, so bytes >= 0x80 are sign-extended before the add; `(b << 24) >> 24` does that.
 */
export const oneAtATime: HashFn = (buf, start, end) => {
  let h = 0;
  for (let i = start; i < end; i++) {
    h = (h + ((buf[i] << 24) >> 24)) | 0;
    h = (h + (h << 10)) | 0;
    h ^= h >>> 6;
  }
  h = (h + (h << 3)) | 0;
  h ^= h >>> 11;
  h = (h + (h << 15)) | 0;
  return h >>> 0;
};
