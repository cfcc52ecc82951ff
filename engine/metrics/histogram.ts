import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs to 60 s at 3 significant digits, as every latency legate records. */
export function latencyHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    autoResize: false,
  });
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Adds an encoded histogram into `into`. */
export function addEncoded(into: Histogram, encoded: string): void {
  if (encoded === '') return;
  into.add(hdr.decodeFromCompressedBase64(encoded, 32));
}

export function decodeHistogram(encoded: string): Histogram {
  return encoded === '' ? latencyHistogram() : hdr.decodeFromCompressedBase64(encoded, 32);
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

/** The JS histograms legate builds (bitBucketSize 32) expose their counts array; the public type does not. */
interface CountsAccess {
  readonly countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
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
