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

/** Records a latency in microseconds, clamped to the trackable range (a stall past 60 s counts as 60 s). */
export function recordMicros(h: Histogram, micros: number): void {
  h.recordValue(micros < 1 ? 1 : micros > 60_000_000 ? 60_000_000 : Math.round(micros));
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
