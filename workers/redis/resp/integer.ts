/** Integers in RESP and in command arguments, parsed from bytes in place, as Redis parses them. */

const encoder = new TextEncoder();

/**
 * `buf[start, end)` as an integer with Redis's string2ll rules (optional '-', no '+', no
 * spaces, no leading zeros): NaN when it is not one. Beyond 2^53 the value is approximate,
 * which only matters to callers comparing it with huge bounds; beyond int64 it is NaN.
 */
export function parseIntBytes(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (i < end && buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  const digits = end - i;
  if (digits <= 0 || digits > 19) return Number.NaN;
  if (buf[i] === 0x30) return digits === 1 && !negative ? 0 : Number.NaN;
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  if (digits === 19 && !fitsInt64(buf, end - 19, negative)) return Number.NaN;
  return negative ? -n : n;
}

const INT64_MAX_DIGITS = encoder.encode('9223372036854775807');

/** Whether 19 digits at `at` are within int64, compared as text since doubles cannot. */
function fitsInt64(buf: Uint8Array, at: number, negative: boolean): boolean {
  for (let i = 0; i < 19; i++) {
    // int64's minimum is one further from zero than its maximum: ...808 for negatives.
    const limit = i === 18 && negative ? 0x38 : INT64_MAX_DIGITS[i];
    if (buf[at + i] !== limit) return buf[at + i] < limit;
  }
  return true;
}
