/**
 * Which of the two file formats a config is in — one rule, decided on the parsed top level:
 *
 *   A file is in the **nutcracker** dialect when it is a non-empty mapping and every top-level
 *   value is a mapping with a `listen` or `servers` key (every top-level key is a pool, as in a
 *   twemproxy nutcracker.yml). Anything else is the **legate** (native) dialect.
 *
 * The rule needs no marker, so a nutcracker.yml loads unchanged. Keys are compared after
 * interpolation, aliases followed. A native file's own sections never qualify: `redis:` holds
 * pools, not `listen`; `admin:` has `listen` but sits beside `workers`, `log`, … which do not.
 * The one file read wrongly would be a native file holding nothing but `admin:` — and a native
 * file must have a pool anyway. In a native file, a top-level key that looks like a pool is
 * reported with a hint to move it under `redis:` (see native.ts).
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { scalarText } from './read.ts';
import type { ConfigSource } from './source.ts';

export type Dialect = 'nutcracker' | 'legate';

/**
 * A mapping with a `listen` key, or a `servers` key that is not a list of mappings (a pool's
 * servers are `host:port:weight` strings; a legate.yml `http:` section's servers are mappings).
 */
export function looksLikePool(node: Node | null, src: ConfigSource): boolean {
  if (!isMap(node)) return false;
  return node.items.some((pair) => {
    const key = src.deref(pair.key as Node | null);
    const name = isScalar(key) ? scalarText(key) : null;
    if (name === 'listen') return true;
    if (name !== 'servers') return false;
    const value = src.deref(pair.value as Node | null);
    return !(
      isSeq(value) &&
      value.items.length > 0 &&
      value.items.every((item) => isMap(src.deref(item as Node | null)))
    );
  });
}

export function detectDialect(root: Node | null, src: ConfigSource): Dialect {
  if (!isMap(root) || root.items.length === 0) return 'legate';
  const allPools = root.items.every((pair) =>
    looksLikePool(src.deref(pair.value as Node | null), src),
  );
  return allPools ? 'nutcracker' : 'legate';
}
