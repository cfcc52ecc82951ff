/** HAProxy's time format (configuration.txt 2.5) and the plain counts its keywords take. */

const UNITS: Readonly<Record<string, number>> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** HAProxy keeps times in 32-bit milliseconds; past that it refuses the value. */
const MAX_MS = 2 ** 31 - 1;

/** Milliseconds from `500`, `500ms`, `2s`, `30m`, `1h`, `1d`, `100us` (rounded up to 1 ms); or why not. */
export function parseTime(text: string): number | string {
  const m = /^(\d+)([a-z]*)$/.exec(text);
  if (m === null) return `expected a time like 500ms, 2s, 30m (default unit ms), got '${text}'`;
  const factor = UNITS[m[2] === '' ? 'ms' : m[2]];
  if (factor === undefined) {
    return `unknown time unit '${m[2]}' in '${text}'; HAProxy's units are us, ms, s, m, h, d`;
  }
  const ms = Math.ceil(Number(m[1]) * factor);
  if (ms > MAX_MS)
    return `'${text}' is too large: HAProxy's times stop at 2147483647ms (about 24.8 days)`;
  return ms;
}

/** A decimal integer within [min, max]; or why not. */
export function parseCount(text: string, min: number, max: number): number | string {
  if (!/^\d+$/.test(text)) return `expected an integer, got '${text}'`;
  const n = Number(text);
  if (n < min || n > max) return `must be between ${min} and ${max}, got ${n}`;
  return n;
}
