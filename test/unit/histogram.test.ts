// recordMicros computes the histogram index itself (Math.clz32 and shifts) rather than through
// hdr-histogram-js's recordValue: both must leave the very same histogram for every value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeHistogram,
  type Histogram,
  latencyHistogram,
  RECORDS_DIRECTLY,
  recordMicros,
} from '../../engine/metrics/histogram.ts';
import { prng } from '../helpers/prng.ts';

function clampedRound(micros: number): number {
  return micros < 1 ? 1 : micros > 60_000_000 ? 60_000_000 : Math.round(micros);
}

function assertSame(fast: Histogram, reference: Histogram, what: string): void {
  assert.equal(fast.totalCount, reference.totalCount, `${what}: total count`);
  assert.equal(fast.minNonZeroValue, reference.minNonZeroValue, `${what}: min`);
  assert.equal(fast.maxValue, reference.maxValue, `${what}: max`);
  for (const p of [0, 1, 50, 90, 99, 99.9, 99.99, 100])
    assert.equal(fast.getValueAtPercentile(p), reference.getValueAtPercentile(p), `${what}: p${p}`);
  assert.equal(encodeHistogram(fast), encodeHistogram(reference), `${what}: encoded`);
}

test('the installed hdr-histogram-js has the layout recordMicros writes into directly', () => {
  // Otherwise recordMicros falls back to recordValue, and the tests below compare it with itself.
  assert.equal(RECORDS_DIRECTLY, true);
});

test('every bucket boundary lands where recordValue puts it', () => {
  const values: number[] = [
    -5,
    0,
    0.2,
    0.5,
    0.7,
    1,
    1.49,
    1.5,
    2,
    3,
    59_999_999,
    60_000_000,
    6e7 + 1,
    1e12,
  ];
  for (let k = 1; k <= 26; k++) values.push(2 ** k - 1, 2 ** k, 2 ** k + 1, 2 ** k + 0.6);
  for (const v of values) {
    const fast = latencyHistogram();
    const reference = latencyHistogram();
    recordMicros(fast, v);
    reference.recordValue(clampedRound(v));
    assertSame(fast, reference, `value ${v}`);
  }
});

test('a million latencies spread over the whole range give the same histogram', () => {
  const random = prng(16);
  const fast = latencyHistogram();
  const reference = latencyHistogram();
  for (let i = 0; i < 1_000_000; i++) {
    // Log-uniform from 0.1 µs to 100 s, so every bucket gets values.
    const v = 10 ** (random() * 9 - 1);
    recordMicros(fast, v);
    reference.recordValue(clampedRound(v));
  }
  assertSame(fast, reference, 'spread');
});
