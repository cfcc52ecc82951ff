import type { HashFn } from './types.ts';

// twemproxy reads keys through `const char *`, and char is signed on x86, so every FNV variant
// below XORs in the byte sign-extended: 0x80..0xff arrive as 0xffffff80..0xffffffff.
// `(b << 24) >> 24` is that sign extension.

/** Low 32 bits of the 64-bit FNV offset basis 0xcbf29ce484222325. */
const FNV_64_INIT_LO = 0x84222325;
/** Low 32 bits of the 64-bit FNV prime 0x100000001b3. */
const FNV_64_PRIME_LO = 0x1b3;
const FNV_32_INIT = 0x811c9dc5; // 2166136261
const FNV_32_PRIME = 0x01000193; // 16777619

/**
 * twemproxy's fnv1_64 runs in real 64-bit arithmetic and returns `(uint32_t)hash`. The low 32
 * bits of a product or XOR depend only on the low 32 bits of the operands, so the whole
 * computation collapses to 32 bits with the basis and prime cut to their low halves. The byte is
 * sign-extended to 64 bits there, whose low half is the same 32-bit sign extension as below.
 */
export const fnv1_64: HashFn = (buf, start, end) => {
  let h = FNV_64_INIT_LO | 0;
  for (let i = start; i < end; i++) {
    h = Math.imul(h, FNV_64_PRIME_LO) ^ ((buf[i] << 24) >> 24);
  }
  return h >>> 0;
};

/**
 * Despite its name, twemproxy's fnv1a_64 (the default hash) is a 32-bit hash: it casts both
 * the 64-bit basis and prime to uint32_t before the loop.
 */
export const fnv1a_64: HashFn = (buf, start, end) => {
  let h = FNV_64_INIT_LO | 0;
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ ((buf[i] << 24) >> 24), FNV_64_PRIME_LO);
  }
  return h >>> 0;
};

export const fnv1_32: HashFn = (buf, start, end) => {
  let h = FNV_32_INIT | 0;
  for (let i = start; i < end; i++) {
    h = Math.imul(h, FNV_32_PRIME) ^ ((buf[i] << 24) >> 24);
  }
  return h >>> 0;
};

export const fnv1a_32: HashFn = (buf, start, end) => {
  let h = FNV_32_INIT | 0;
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ ((buf[i] << 24) >> 24), FNV_32_PRIME);
  }
  return h >>> 0;
};
