import { isScalar } from 'yaml';
import { describe, type Reader } from './read.ts';

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const FORM = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/**
 * A time span: an integer of milliseconds (as the Redis pools' keys take it), or a number with
 * a unit, `ms`, `s`, `m`, `h` or `d` (`5s`, `30m`), as HAProxy's timeouts are written.
 */
export function duration(range: { readonly min: number }): Reader<number> {
  return (slot, src) => {
    const node = slot.node;
    const value = isScalar(node) ? node.value : undefined;
    let ms: number | undefined;
    if (typeof value === 'number' && Number.isInteger(value)) ms = value;
    else if (typeof value === 'string') {
      const m = FORM.exec(value.trim());
      if (m !== null) ms = Math.round(Number(m[1]) * UNITS[m[2]]);
    }
    if (ms === undefined) {
      src.report(
        slot.place,
        slot.path,
        `expected a duration: milliseconds (5000) or a number with ms, s, m, h or d (5s, 30m); got ${describe(node)}`,
      );
      return undefined;
    }
    if (ms < range.min) {
      src.report(slot.place, slot.path, `must be at least ${range.min} ms, got ${ms} ms`);
      return undefined;
    }
    return ms;
  };
}
