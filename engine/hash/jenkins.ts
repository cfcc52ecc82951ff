import type { HashFn } from './types.ts';

/** twemproxy's JENKINS_INITVAL. */
const INITVAL = 13;

function word(buf: Uint8Array, i: number): number {
  return buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
}

/**
 * Bob Jenkins' lookup3 `hashlittle` with initval 13. The C code picks among 32-bit, 16-bit and
 * byte reads by pointer alignment; on a little-endian machine all three read the same value, so
 * one little-endian byte path covers them. Bytes are unsigned. An empty key returns the initial
 * state (0xdeadbefc) unmixed, as the C code does.
 */
export const jenkins: HashFn = (buf, start, end) => {
  let a = (0xdeadbeef + (end - start) + INITVAL) | 0;
  let b = a;
  let c = a;
  let i = start;
  // `> 12`, not `>= 12`: a final full block goes through the tail and `final`, not `mix`.
  for (; end - i > 12; i += 12) {
    a = (a + word(buf, i)) | 0;
    b = (b + word(buf, i + 4)) | 0;
    c = (c + word(buf, i + 8)) | 0;
    a = (a - c) | 0;
    a ^= (c << 4) | (c >>> 28);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= (a << 6) | (a >>> 26);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= (b << 8) | (b >>> 24);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= (c << 16) | (c >>> 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= (a << 19) | (a >>> 13);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= (b << 4) | (b >>> 28);
    b = (b + a) | 0;
  }
  const rem = end - i;
  if (rem === 0) return c >>> 0;
  // The tail's bytes land in disjoint byte lanes of a, b and c, so OR-ing them into per-word
  // accumulators equals the C code's sequence of adds.
  let ta = 0;
  let tb = 0;
  let tc = 0;
  for (let j = 0; j < rem; j++) {
    const v = buf[i + j] << ((j & 3) << 3);
    if (j < 4) ta |= v;
    else if (j < 8) tb |= v;
    else tc |= v;
  }
  a = (a + ta) | 0;
  b = (b + tb) | 0;
  c = (c + tc) | 0;
  c ^= b;
  c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c;
  a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a;
  b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b;
  c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c;
  a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a;
  b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b;
  c = (c - ((b << 24) | (b >>> 8))) | 0;
  return c >>> 0;
};
