import { crc16 } from './crc16.ts';
import { crc32, crc32a } from './crc32.ts';
import { fnv1_32, fnv1_64, fnv1a_32, fnv1a_64 } from './fnv.ts';
import { hsieh } from './hsieh.ts';
import { jenkins } from './jenkins.ts';
import { md5 } from './md5.ts';
import { murmur } from './murmur.ts';
import { oneAtATime } from './one-at-a-time.ts';
import type { HashFn, HashName } from './types.ts';

export const HASH_FUNCTIONS: Readonly<Record<HashName, HashFn>> = Object.freeze({
  one_at_a_time: oneAtATime,
  md5,
  crc16,
  crc32,
  crc32a,
  fnv1_64,
  fnv1a_64,
  fnv1_32,
  fnv1a_32,
  hsieh,
  murmur,
  jenkins,
});

export function hashFunction(name: HashName): HashFn {
  return HASH_FUNCTIONS[name];
}
