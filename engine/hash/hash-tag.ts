import type { HashFn } from './types.ts';

/**
 * The hash a key routes by, as nutcracker 0.5.0's server_pool_idx/server_pool_hash compute it.
 * With a hash_tag (tagOpen/tagClose as byte values; -1 when the pool has none), only the bytes
 * strictly between the first tagOpen and the first tagClose after it are hashed, provided that
 * span is non-empty; otherwise the whole key is. An empty key hashes to 0 without calling `fn`.
 */
export function hashKey(
  fn: HashFn,
  buf: Uint8Array,
  start: number,
  end: number,
  tagOpen: number,
  tagClose: number,
): number {
  if (start >= end) return 0;
  if (tagOpen >= 0) {
    let open = start;
    while (open < end && buf[open] !== tagOpen) open++;
    if (open < end) {
      // The close search starts after the open byte, so a tag like `$$` pairs two distinct bytes.
      let close = open + 1;
      while (close < end && buf[close] !== tagClose) close++;
      if (close < end && close - open > 1) return fn(buf, open + 1, close);
    }
  }
  return fn(buf, start, end);
}
