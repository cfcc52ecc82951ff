import type { HashFn } from './types.ts';

/** RFC 1321's T[i] = floor(2^32 * |sin(i + 1)|), written out rather than trusting Math.sin. */
const K = new Int32Array([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
]);

/** Left-rotation amounts: four per round, cycled within the round. */
const S = new Uint8Array([7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]);

/** Per-step message-word index. */
const G = new Uint8Array(64);
for (let j = 0; j < 64; j++) {
  G[j] = j < 16 ? j : j < 32 ? (5 * j + 1) & 15 : j < 48 ? (3 * j + 5) & 15 : (7 * j) & 15;
}

// Module-level scratch so that hashing a key allocates nothing: the chaining state, the current
// block's words, and room for the padded tail (at most two blocks).
const state = new Int32Array(4);
const words = new Int32Array(16);
const tail = new Uint8Array(128);

function block(src: Uint8Array, off: number): void {
  for (let w = 0; w < 16; w++, off += 4) {
    words[w] = src[off] | (src[off + 1] << 8) | (src[off + 2] << 16) | (src[off + 3] << 24);
  }
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  for (let j = 0; j < 64; j++) {
    let f: number;
    if (j < 16) f = d ^ (b & (c ^ d));
    else if (j < 32) f = c ^ (d & (b ^ c));
    else if (j < 48) f = b ^ c ^ d;
    else f = c ^ (b | ~d);
    const x = (a + f + K[j] + words[G[j]]) | 0;
    const s = S[((j >> 4) << 2) | (j & 3)];
    a = d;
    d = c;
    c = b;
    b = (b + ((x << s) | (x >>> (32 - s)))) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
}

/** Runs MD5 over buf[start, end), leaving the digest in `state` as four little-endian words. */
function digestInto(buf: Uint8Array, start: number, end: number): void {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89;
  state[2] = 0x98badcfe;
  state[3] = 0x10325476;
  const len = end - start;
  const fullEnd = end - (len & 63);
  for (let off = start; off < fullEnd; off += 64) block(buf, off);
  const rest = end - fullEnd;
  for (let k = 0; k < rest; k++) tail[k] = buf[fullEnd + k];
  tail[rest] = 0x80;
  const padded = rest < 56 ? 64 : 128;
  tail.fill(0, rest + 1, padded - 8);
  // Message length in bits, 64-bit little-endian; `len` is far below 2^53, so two halves suffice.
  const bitsLo = len << 3;
  const bitsHi = Math.floor(len / 0x20000000);
  tail[padded - 8] = bitsLo;
  tail[padded - 7] = bitsLo >>> 8;
  tail[padded - 6] = bitsLo >>> 16;
  tail[padded - 5] = bitsLo >>> 24;
  tail[padded - 4] = bitsHi;
  tail[padded - 3] = bitsHi >>> 8;
  tail[padded - 2] = bitsHi >>> 16;
  tail[padded - 1] = bitsHi >>> 24;
  block(tail, 0);
  if (padded === 128) block(tail, 64);
}

/** The 16-byte MD5 digest of `bytes` (a fresh array; meant for ring building, not per request). */
export function md5Digest(bytes: Uint8Array): Uint8Array {
  digestInto(bytes, 0, bytes.length);
  const out = new Uint8Array(16);
  for (let w = 0; w < 4; w++) {
    const v = state[w];
    out[4 * w] = v;
    out[4 * w + 1] = v >>> 8;
    out[4 * w + 2] = v >>> 16;
    out[4 * w + 3] = v >>> 24;
  }
  return out;
}

/** twemproxy's `md5` hash: digest bytes 0..3 as a little-endian uint32, which is MD5's A word. */
export const md5: HashFn = (buf, start, end) => {
  digestInto(buf, start, end);
  return state[0] >>> 0;
};
