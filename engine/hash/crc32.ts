import type { HashFn } from './types.ts';

/** The standard reflected CRC-32 table (polynomial 0xedb88320). */
const TABLE = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  TABLE[i] = c;
}

/** The running value before any byte (for crc32Update over pieces, as nginx's ngx_crc32_update). */
export const CRC32_INIT = -1;

/** Feeds `buf[start, end)` into a running CRC-32; finish with crc32Final. */
export function crc32Update(crc: number, buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    crc = (crc >>> 8) ^ TABLE[(crc ^ buf[i]) & 0xff];
  }
  return crc;
}

/** The standard CRC-32 value of a running one. */
export function crc32Final(crc: number): number {
  return ~crc >>> 0;
}

function crcRaw(buf: Uint8Array, start: number, end: number): number {
  return crc32Update(CRC32_INIT, buf, start, end);
}

/**
 * libmemcached's crc32, which twemproxy copies: a standard CRC-32 reduced to bits 16..30, so it
 * only ever yields 0..32767. The C code XORs in a sign-extended char, but the `& 0xff` on the
 * table index throws the extension away.
 */
export const crc32: HashFn = (buf, start, end) => (~crcRaw(buf, start, end) >>> 16) & 0x7fff;

/** The standard CRC-32 value (the one zlib and `cksum -o 3` print). */
export const crc32a: HashFn = (buf, start, end) => ~crcRaw(buf, start, end) >>> 0;
