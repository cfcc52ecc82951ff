// engine/metrics/histogram.ts does two things hdr-histogram-js would do more slowly or with more
// memory: recordMicros computes the histogram index itself (Math.clz32 and shifts) rather than
// through recordValue, and histograms travel between threads in legate's own encoding (the
// library's loads pako and WebAssembly in every thread). Both are checked against the library:
// recordMicros must leave the very same histogram as recordValue for every value, and a decoded
// histogram must answer every question as the library's own decoding does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import {
  addEncoded,
  decodeHistogram,
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

function same(ours: Histogram, theirs: Histogram, what: string): void {
  for (const k of ['totalCount', 'maxValue', 'minNonZeroValue', 'mean'] as const)
    assert.equal(ours[k], theirs[k], `${what}: ${k}`);
  for (const p of [0, 1, 50, 90, 99, 99.9, 99.99, 100])
    assert.equal(ours.getValueAtPercentile(p), theirs.getValueAtPercentile(p), `${what}: p${p}`);
}

test('a decoded histogram is the one hdr-histogram-js decodes from its own encoding', () => {
  const random = prng(0x4d52);
  const shapes: [string, () => number][] = [
    ['one value', () => 250],
    ['uniform 0–5 ms', () => random() * 5000],
    ['long tail to 60 s and beyond', () => (random() < 0.01 ? random() * 9e7 : random() * 800)],
    ['sub-microsecond', () => random()],
  ];
  for (const [what, sample] of shapes) {
    const h = latencyHistogram();
    for (let i = 0; i < 20000; i++) recordMicros(h, sample());
    const theirs = hdr.decodeFromCompressedBase64(hdr.encodeIntoCompressedBase64(h), 32);
    const ours = latencyHistogram();
    addEncoded(ours, encodeHistogram(h));
    same(ours, theirs, what);
    same(decodeHistogram(encodeHistogram(h)), theirs, `${what}, decodeHistogram`);
    // Adding into one that has counts already sums them, as add() does.
    const sum = latencyHistogram();
    addEncoded(sum, encodeHistogram(h));
    addEncoded(sum, encodeHistogram(h));
    const twice = latencyHistogram();
    twice.add(theirs);
    twice.add(theirs);
    same(sum, twice, `${what}, twice`);
  }
});

test('an empty histogram encodes to nothing and adds nothing; a corrupt one is an error', () => {
  const empty = latencyHistogram();
  assert.equal(encodeHistogram(empty), '');
  const into = latencyHistogram();
  addEncoded(into, '');
  assert.equal(into.totalCount, 0);
  const h = latencyHistogram();
  recordMicros(h, 1e6);
  const bytes = Buffer.from(encodeHistogram(h), 'base64');
  assert.throws(() => addEncoded(latencyHistogram(), bytes.subarray(0, 1).toString('base64')), {
    message: 'truncated histogram encoding',
  });
  assert.throws(
    () => addEncoded(latencyHistogram(), Buffer.from([0xff, 0xff, 0x7f, 1]).toString('base64')),
    {
      message: 'histogram encoding out of range',
    },
  );
});
