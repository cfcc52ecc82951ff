import type { HashFn } from './types.ts';

/** CRC-16/XMODEM table (polynomial 0x1021, not reflected), as in nutcracker 0.5.0's nc_crc16.c. */
const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let k = 0; k < 8; k++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
  TABLE[i] = c;
}

/**
 * nutcracker 0.5.0 keeps the CRC in a uint32_t and shifts it left without masking to 16 bits, so
 * the result is not a CRC-16 at all once the key is longer than two bytes: the old bits keep
 * climbing (and eventually fall off the top). Only the table index is masked to a byte, which
 * also hides that the C code XORs in a sign-extended char. Later twemproxy releases switched to a
 * proper 16-bit CRC; this is the 0.5.0 behaviour that existing clusters were sharded with.
 */
export const crc16: HashFn = (buf, start, end) => {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = (crc << 8) ^ TABLE[((crc >>> 8) ^ buf[i]) & 0xff];
  }
  return crc >>> 0;
};
