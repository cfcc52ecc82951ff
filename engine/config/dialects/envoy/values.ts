/**
 * Envoy's value forms in an envoy.yaml (protobuf's JSON mapping): durations as strings
 * ("0.25s"), UInt32Value wrappers as bare integers, Percent as `{value: N}`, enums by name,
 * `@type` on typed configs. Each reader reports at the value's line and column with its field
 * path and returns undefined, so one run lists every mistake.
 */
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import {
  describe,
  type Entry,
  joinPath,
  readMap,
  type Slot,
  scalarText,
  slotOf,
} from '../../read.ts';
import type { ConfigSource } from '../../source.ts';
import { didYouMean } from '../../suggest.ts';

/** Where the reader reports: errors to `src`, what it accepts but does not apply to `warn`. */
export interface EnvoyContext {
  readonly src: ConfigSource;
  /** Same file; its issues are the config's warnings. */
  readonly warn: ConfigSource;
}

/** What a mapping may hold: keys read, keys accepted with a warning (key → why). */
export interface Shape {
  readonly known: readonly string[];
  readonly warned?: Readonly<Record<string, string>>;
}

/**
 * The fields of a message, by name. Unknown fields are refused (Envoy would refuse them too, or
 * they would change what the proxy does); warned ones are reported as warnings and dropped.
 */
export function fields(
  slot: Slot,
  ctx: EnvoyContext,
  shape: Shape,
  what: string,
): Map<string, Entry> | undefined {
  const entries = readMap(slot.node, slot.place, slot.path, ctx.src, what);
  if (entries === undefined) return undefined;
  const out = new Map<string, Entry>();
  const warned = shape.warned ?? {};
  for (const e of entries) {
    if (shape.known.includes(e.key)) out.set(e.key, e);
    else if (e.key in warned) ctx.warn.report(e.keyNode, e.path, warned[e.key]);
    else
      ctx.src.report(
        e.keyNode,
        e.path,
        `field '${e.key}' is not supported in ${what}${didYouMean(e.key, [...shape.known, ...Object.keys(warned)])}; ` +
          `legate reads ${shape.known.join(', ')}`,
      );
  }
  return out;
}

/** A required field: reports when absent. */
export function need(
  map: Map<string, Entry>,
  key: string,
  parent: Slot,
  ctx: EnvoyContext,
): Entry | undefined {
  const e = map.get(key);
  if (e === undefined)
    ctx.src.report(parent.place, joinPath(parent.path, key), `'${key}' is required`);
  return e;
}

/** The items of a list, each with its path `path[i]`. */
export function list(slot: Slot, ctx: EnvoyContext): Slot[] | undefined {
  const node = slot.node;
  if (!isSeq(node)) {
    ctx.src.report(node ?? slot.place, slot.path, `expected a list, got ${describe(node)}`);
    return undefined;
  }
  return node.items.map((item, i) => {
    const n = ctx.src.deref(item as Node | null);
    return { node: n, place: n ?? slot.place, path: `${slot.path}[${i}]` };
  });
}

/** `"0.25s"`, `"5s"`, `"0.000001s"` → milliseconds (fractions of a ms kept). */
export function duration(slot: Slot, ctx: EnvoyContext): number | undefined {
  const node = slot.node;
  if (isScalar(node) && typeof node.value === 'string') {
    const m = /^(\d+)(\.\d{1,9})?s$/.exec(node.value);
    if (m !== null) return Number(m[1]) * 1000 + Number(`0${m[2] ?? ''}`) * 1000;
    ctx.src.report(
      slot.place,
      slot.path,
      `expected a duration like '0.25s' or '5s' (seconds, up to 9 decimals, then 's'), got ${describe(node)}`,
    );
    return undefined;
  }
  ctx.src.report(
    slot.place,
    slot.path,
    `expected a duration string like '5s' (Envoy writes durations as strings), got ${describe(node)}`,
  );
  return undefined;
}

const UINT32_MAX = 4_294_967_295;

/** UInt32Value or uint32: a bare integer (protobuf JSON also takes it quoted). */
export function uint32(slot: Slot, ctx: EnvoyContext, max = UINT32_MAX): number | undefined {
  const node = slot.node;
  let value: unknown = isScalar(node) ? node.value : undefined;
  if (typeof value === 'string' && /^\d+$/.test(value)) value = Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    ctx.src.report(slot.place, slot.path, `expected an unsigned integer, got ${describe(node)}`);
    return undefined;
  }
  if (value > max) {
    ctx.src.report(slot.place, slot.path, `must be at most ${max}, got ${value}`);
    return undefined;
  }
  return value;
}

/** envoy.type.v3.Percent: `{value: N}`, 0–100. */
export function percent(slot: Slot, ctx: EnvoyContext): number | undefined {
  if (isScalar(slot.node) && typeof slot.node.value === 'number') {
    ctx.src.report(
      slot.place,
      slot.path,
      `expected a Percent like '{value: ${slot.node.value}}', got ${describe(slot.node)}`,
    );
    return undefined;
  }
  const f = fields(slot, ctx, { known: ['value'] }, 'a Percent ({value: N})');
  const v = f?.get('value');
  if (f === undefined) return undefined;
  if (v === undefined) return 0;
  const node = v.value;
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value !== 'number' || value < 0 || value > 100) {
    ctx.src.report(v.place, v.path, `expected a number from 0 to 100, got ${describe(node)}`);
    return undefined;
  }
  return value;
}

export function bool(slot: Slot, ctx: EnvoyContext): boolean | undefined {
  const node = slot.node;
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  ctx.src.report(slot.place, slot.path, `expected true or false, got ${describe(node)}`);
  return undefined;
}

export function str(slot: Slot, ctx: EnvoyContext): string | undefined {
  const node = slot.node;
  const value = isScalar(node) ? scalarText(node) : null;
  if (value !== null && value !== '' && !isMap(node)) return value;
  ctx.src.report(slot.place, slot.path, `expected a string, got ${describe(node)}`);
  return undefined;
}

export function enumOf<const T extends string>(
  slot: Slot,
  ctx: EnvoyContext,
  allowed: readonly T[],
  refused: Readonly<Record<string, string>> = {},
): T | undefined {
  const value = str(slot, ctx);
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  const why = refused[value];
  ctx.src.report(
    slot.place,
    slot.path,
    why !== undefined
      ? `${value} is not supported: ${why}`
      : `expected one of ${allowed.join(', ')}; got '${value}'${didYouMean(value, allowed)}`,
  );
  return undefined;
}

/** Checks a typed_config's `@type`; returns its other fields. */
export function typed(
  slot: Slot,
  ctx: EnvoyContext,
  type: string,
  shape: Shape,
  what: string,
): Map<string, Entry> | undefined {
  const f = fields(slot, ctx, { known: ['@type', ...shape.known], warned: shape.warned }, what);
  if (f === undefined) return undefined;
  const t = need(f, '@type', slot, ctx);
  if (t !== undefined) {
    const given = str(slotOf(t), ctx);
    if (given !== undefined && given !== `type.googleapis.com/${type}`)
      ctx.src.report(t.place, t.path, `expected 'type.googleapis.com/${type}', got '${given}'`);
  }
  f.delete('@type');
  return f;
}

/** Reads an optional field with `read`, else `fallback`. */
export function opt<T>(
  map: Map<string, Entry> | undefined,
  key: string,
  read: (slot: Slot, ctx: EnvoyContext) => T | undefined,
  ctx: EnvoyContext,
  fallback: T,
): T {
  const e = map?.get(key);
  if (e === undefined) return fallback;
  return read(slotOf(e), ctx) ?? fallback;
}
