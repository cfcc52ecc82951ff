// The package's index (and its build() and compressed encoding) loads pako and a WebAssembly
// build with it: about 13 MB more in every thread that imports it. legate needs only the
// 32-bit JS histogram and a way to send one between threads, so it imports that class alone
// and encodes the counts itself.
import type { Histogram as HdrHistogram } from 'hdr-histogram-js';
import Int32HistogramModule from 'hdr-histogram-js/dist/Int32Histogram.js';

export type Histogram = HdrHistogram;

const Int32Histogram = Int32HistogramModule.default;

/** 1 µs to 60 s at 3 significant digits, as every latency legate records. */
export function latencyHistogram(): Histogram {
  return new Int32Histogram(1, 60_000_000, 3);
}

/** The JS histograms legate builds expose their counts array; the public type does not. */
interface CountsAccess {
  readonly countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  highestEquivalentValue(value: number): number;
}

/** Appends `n` (a non-negative integer below 2^53) as a LEB128 varint. */
function putVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/**
 * The histogram's non-zero buckets as base64 of varint pairs (index step, count): a few hundred
 * bytes for a typical latency spread; '' when empty. Only addEncoded reads it.
 */
export function encodeHistogram(h: Histogram): string {
  const counts = h as unknown as CountsAccess;
  const out: number[] = [];
  let last = 0;
  for (let i = 0; i < counts.countsArrayLength; i++) {
    const c = counts.getCountAtIndex(i);
    if (c === 0) continue;
    putVarint(out, i - last);
    putVarint(out, c);
    last = i;
  }
  return out.length === 0 ? '' : Buffer.from(out).toString('base64');
}

/** Adds an encoded histogram (encodeHistogram's, same layout) into `into`. */
export function addEncoded(into: Histogram, encoded: string): void {
  if (encoded === '') return;
  const bytes = Buffer.from(encoded, 'base64');
  const counts = into as unknown as CountsAccess;
  let at = 0;
  let index = 0;
  const next = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length) throw new Error('truncated histogram encoding');
      const b = bytes[at++];
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
  };
  while (at < bytes.length) {
    index += next();
    const count = next();
    if (index >= counts.countsArrayLength) throw new Error('histogram encoding out of range');
    // The bucket's lowest value lands in the same bucket; min and mean read buckets anyway.
    into.recordValueWithCount(counts.valueFromIndex(index), count);
  }
  // The max is the top of its bucket, as hdr's own decoding makes it.
  into.recordValueWithCount(counts.highestEquivalentValue(counts.valueFromIndex(index)), 0);
}

/** A new histogram holding an encoded one (encodeHistogram's). */
export function decodeHistogram(encoded: string): Histogram {
  const h = latencyHistogram();
  addEncoded(h, encoded);
  return h;
}

/**
 * The counts and bookkeeping of hdr-histogram-js's JS histograms (JsHistogram with a typed counts
 * array), which the public type does not show; `recordMicros` updates them directly.
 */
interface RecordAccess {
  readonly unitMagnitude: number;
  readonly subBucketHalfCountMagnitude: number;
  readonly countsArrayLength: number;
  readonly _counts: Uint32Array;
  _totalCount: number;
  readonly maxValue: number;
  readonly minNonZeroValue: number;
  updatedMaxValue(value: number): void;
  updateMinNonZeroValue(value: number): void;
}

/**
 * Whether latencyHistogram() builds what recordMicros's index arithmetic assumes (unit 1, 3
 * significant digits: 1024 sub-buckets a half-bucket; counts in a Uint32Array), checked once on
 * a probe: another version of the library falls back to recordValue rather than miscounting.
 */
export const RECORDS_DIRECTLY = ((): boolean => {
  const r = latencyHistogram() as unknown as RecordAccess;
  return (
    r.unitMagnitude === 0 &&
    r.subBucketHalfCountMagnitude === 10 &&
    r._counts instanceof Uint32Array &&
    r._counts.length === r.countsArrayLength &&
    typeof r._totalCount === 'number' &&
    typeof r.updatedMaxValue === 'function' &&
    typeof r.updateMinNonZeroValue === 'function'
  );
})();

/**
 * Records a latency in microseconds into a histogram from latencyHistogram(), clamped to the
 * trackable range (a stall past 60 s counts as 60 s). Twice per request on the hot path: the
 * library's recordValue finds the bucket with Math.log2, Math.pow and Math.floor, which took
 * 1.3–2.3% of a worker's time at -P 16; the same index from Math.clz32 and shifts costs a
 * fraction of that (test/unit/histogram.test.ts checks that both leave the same histogram).
 */
export function recordMicros(h: Histogram, micros: number): void {
  const v = micros < 1 ? 1 : micros > 60_000_000 ? 60_000_000 : Math.round(micros);
  if (!RECORDS_DIRECTLY) {
    h.recordValue(v);
    return;
  }
  const r = h as unknown as RecordAccess;
  // The library's index: bucket = max(floor(log2 v) - 10, 0), then
  // (bucket + 1) * 1024 + (v >> bucket) - 1024.
  const bucket = 21 - Math.clz32(v);
  const index = bucket > 0 ? (bucket << 10) + (v >>> bucket) : v;
  r._counts[index]++;
  r._totalCount++;
  if (v > r.maxValue) r.updatedMaxValue(v);
  if (v < r.minNonZeroValue) r.updateMinNonZeroValue(v);
}

/** Cumulative counts at or below each bound (same unit as recorded: µs), for Prometheus buckets. */
export function cumulativeCounts(h: Histogram, bounds: readonly number[]): number[] {
  const counts = h as unknown as CountsAccess;
  const out = new Array<number>(bounds.length).fill(0);
  for (let i = 0; i < counts.countsArrayLength; i++) {
    const c = counts.getCountAtIndex(i);
    if (c === 0) continue;
    const v = counts.valueFromIndex(i);
    for (let b = 0; b < bounds.length; b++) if (v <= bounds[b]) out[b] += c;
  }
  return out;
}

/**
 * `now − before`, bucket by bucket, as a new histogram (its min and max those of what is left);
 * null when some bucket of `before` holds more than `now`'s: they are not the same history.
 */
export function histogramDifference(now: Histogram, before: Histogram): Histogram | null {
  const a = now as unknown as CountsAccess;
  const b = before as unknown as CountsAccess;
  if (a.countsArrayLength !== b.countsArrayLength || before.totalCount > now.totalCount)
    return null;
  const out = latencyHistogram();
  for (let i = 0; i < a.countsArrayLength; i++) {
    const d = a.getCountAtIndex(i) - b.getCountAtIndex(i);
    if (d < 0) return null;
    if (d > 0) out.recordValueWithCount(a.valueFromIndex(i), d);
  }
  return out;
}

/**
 * The value at percentile `p` (0–100), 0 for an empty histogram, never above its max: what
 * /stats and /metrics print must be a number whatever the histogram holds.
 */
export function percentileOf(h: Histogram, p: number): number {
  if (!(h.totalCount > 0)) return 0;
  try {
    const v = h.getValueAtPercentile(p);
    return Number.isFinite(v) ? Math.min(Math.max(v, 0), h.maxValue) : 0;
  } catch {
    // A histogram whose counts disagree with its total (it should not happen): no percentile.
    return 0;
  }
}
