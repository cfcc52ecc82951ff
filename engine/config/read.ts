import { isMap, isScalar, isSeq, type Node, type Pair, type Scalar } from 'yaml';
import type { ConfigSource, Placed } from './source.ts';
import { didYouMean } from './suggest.ts';

/** One key of a mapping, with the nodes to point at when it is wrong. */
export interface Entry {
  readonly key: string;
  readonly keyNode: Scalar;
  /** Aliases already followed; null when the key has no value (`servers:`). */
  readonly value: Node | null;
  /** Where to point for a problem with the value: the value, or the key when the value is empty. */
  readonly place: Placed;
  readonly path: string;
}

/** The value a reader is asked to read, and where a problem with it is reported. */
export interface Slot {
  readonly node: Node | null;
  readonly place: Placed;
  readonly path: string;
}

/** Reads one value; reports what is wrong to `src` and returns undefined, so callers keep going. */
export type Reader<T> = (slot: Slot, src: ConfigSource) => T | undefined;

export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Text of a scalar as written for plain scalars, so `0123` as a name or password keeps its zero. */
export function scalarText(node: Scalar): string | null {
  if (node.value === null || node.value === undefined) return null;
  if (typeof node.value === 'string') return node.value;
  return node.type === 'PLAIN' && node.source !== undefined ? node.source : String(node.value);
}

/** How a value is named in "got …" so the user recognises what they wrote. */
export function describe(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'nothing';
    if (typeof v === 'string') return `'${v}'`;
    return scalarText(node) ?? String(v);
  }
  return 'an alias';
}

/** False for a missing value and for `key:` with nothing after it, which yaml places after the colon. */
function hasText(node: Node | null): node is Node {
  return node?.range != null && node.range[1] > node.range[0];
}

/** A missing value, `key:`, or `key: ~`: what YAML calls null. */
export function isNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && (node.value === null || node.value === undefined));
}

/**
 * The entries of a mapping, keys as strings. A key given twice is reported with both lines
 * (we parse with `uniqueKeys: false` so this check sees keys after interpolation and knows the path).
 */
export function readMap(
  node: Node | null,
  place: Placed,
  path: string,
  src: ConfigSource,
  what: string,
): Entry[] | undefined {
  if (!isMap(node)) {
    src.report(node ?? place, path, `expected ${what}, got ${describe(node)}`);
    return undefined;
  }
  const seen = new Map<string, Scalar>();
  const entries: Entry[] = [];
  for (const pair of node.items as Pair<unknown, unknown>[]) {
    const keyNode = src.deref(pair.key as Node | null);
    const text = isScalar(keyNode) ? scalarText(keyNode) : null;
    if (!isScalar(keyNode) || text === null || text === '') {
      src.report(
        keyNode ?? (pair.value as Node | null) ?? node,
        path,
        `expected a name as key, got ${describe(keyNode)}`,
      );
      continue;
    }
    const keyPath = joinPath(path, text);
    const first = seen.get(text);
    if (first !== undefined) {
      src.report(
        keyNode,
        keyPath,
        `key '${text}' is given twice (first on line ${src.lineOf(first)}); keep one`,
      );
      continue;
    }
    seen.set(text, keyNode);
    const value = src.deref(pair.value as Node | null);
    entries.push({
      key: text,
      keyNode,
      value,
      place: hasText(value) ? value : keyNode,
      path: keyPath,
    });
  }
  return entries;
}

/** Reports every entry whose key is not in `known`, suggesting the nearest known key. */
export function rejectUnknown(
  entries: readonly Entry[],
  known: readonly string[],
  src: ConfigSource,
  where: string,
): Entry[] {
  const kept: Entry[] = [];
  for (const entry of entries) {
    if (known.includes(entry.key)) {
      kept.push(entry);
    } else {
      src.report(
        entry.keyNode,
        entry.path,
        `unknown key '${entry.key}' in ${where}${didYouMean(entry.key, known)}`,
      );
    }
  }
  return kept;
}

export function slotOf(entry: Entry): Slot {
  return { node: entry.value, place: entry.place, path: entry.path };
}

export interface IntegerRange {
  readonly min: number;
  readonly max?: number;
}

/** Checks an already-numeric value; shared with environment overrides so both say the same. */
export function checkInteger(value: unknown, text: string, range: IntegerRange): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    return `expected an integer, got ${text}`;
  }
  if (value < range.min) return `must be at least ${range.min}, got ${value}`;
  if (range.max !== undefined && value > range.max) {
    return `must be at most ${range.max}, got ${value}`;
  }
  return null;
}

export function integer(range: IntegerRange): Reader<number> {
  return (slot, src) => {
    const node = slot.node;
    const value = isScalar(node) ? node.value : undefined;
    const problem = checkInteger(value, describe(node), range);
    if (problem !== null) {
      src.report(slot.place, slot.path, problem);
      return undefined;
    }
    return value as number;
  };
}

/** twemproxy reads only `true` and `false`; `yes`/`on` are YAML 1.1 and would silently be strings here. */
export const boolean: Reader<boolean> = (slot, src) => {
  const node = slot.node;
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  src.report(slot.place, slot.path, `expected true or false, got ${describe(node)}`);
  return undefined;
};

export function oneOf<const T extends string>(allowed: readonly T[]): Reader<T> {
  return (slot, src) => {
    const node = slot.node;
    const text = isScalar(node) ? scalarText(node) : null;
    if (text !== null && (allowed as readonly string[]).includes(text)) return text as T;
    const hint = text === null ? '' : didYouMean(text, allowed);
    src.report(
      slot.place,
      slot.path,
      `expected one of ${allowed.join(', ')}; got ${describe(node)}${hint}`,
    );
    return undefined;
  };
}

/** A non-empty string; numbers and booleans are taken as written, since YAML typed them by accident. */
export const text: Reader<string> = (slot, src) => {
  const node = slot.node;
  const value = isScalar(node) ? scalarText(node) : null;
  if (value !== null && value !== '') return value;
  src.report(slot.place, slot.path, `expected a string, got ${describe(node)}`);
  return undefined;
};

/** What the pure string parsers (addresses, server lines) return: a value or what form was expected. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/** A string read by `parse`. */
export function parsed<T>(parse: (text: string) => Parsed<T>): Reader<T> {
  return (slot, src) => {
    const value = text(slot, src);
    if (value === undefined) return undefined;
    const result = parse(value);
    if (!result.ok) {
      src.report(slot.place, slot.path, result.error);
      return undefined;
    }
    return result.value;
  };
}

/** Maps a value after reading it, like twemproxy's "0 means none" for timeouts and limits. */
export function map<T, U>(read: Reader<T>, f: (value: T) => U): Reader<U> {
  return (slot, src) => {
    const value = read(slot, src);
    return value === undefined ? undefined : f(value);
  };
}
