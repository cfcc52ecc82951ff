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

/** Records a latency in microseconds, clamped to the trackable range (a stall past 60 s counts as 60 s). */
export function recordMicros(h: Histogram, micros: number): void {
  h.recordValue(micros < 1 ? 1 : micros > 60_000_000 ? 60_000_000 : Math.round(micros));
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
