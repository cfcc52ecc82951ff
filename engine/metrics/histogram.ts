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
