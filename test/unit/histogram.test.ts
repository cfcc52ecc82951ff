// engine/metrics/histogram.ts encodes histograms between threads itself (hdr-histogram-js's own
// encoding loads pako and WebAssembly in every thread). Checked against the library's own
// encode and decode: the decoded histogram answers every question the same way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import {
  addEncoded,
  encodeHistogram,
  type Histogram,
  latencyHistogram,
  recordMicros,
} from '../../engine/metrics/histogram.ts';
import { prng } from '../helpers/prng.ts';

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
