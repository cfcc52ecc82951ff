// The router's deadline lists (route and per-try timeouts without a Node timer per request): each
// deadline expires once, not before its time, in order; a disarmed one never fires; re-arming
// moves it; deadlines of different durations do not wait on each other.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Deadline } from '../../workers/http/breaker/deadlines.ts';

interface Probe {
  readonly name: string;
  readonly armedAt: number;
  firedAt: number;
  fired: number;
}

function probe(name: string): Probe {
  return { name, armedAt: performance.now(), firedAt: 0, fired: 0 };
}

function expire(p: Probe): void {
  p.fired++;
  p.firedAt = performance.now();
}

test('deadlines expire once each, in order, not before their time', async () => {
  const probes = ['a', 'b', 'c'].map(probe);
  const order: string[] = [];
  for (const p of probes) {
    new Deadline(p, (x: Probe) => {
      expire(x);
      order.push(x.name);
    }).arm(40);
    await sleep(5);
  }
  await sleep(120);
  assert.deepEqual(order, ['a', 'b', 'c']);
  for (const p of probes) {
    assert.equal(p.fired, 1, p.name);
    assert.ok(p.firedAt - p.armedAt >= 40, `${p.name} fired after ${p.firedAt - p.armedAt} ms`);
  }
});

test('a disarmed deadline never fires; the ones around it still do', async () => {
  const [a, b, c] = ['a', 'b', 'c'].map(probe);
  const da = new Deadline(a, expire);
  const db = new Deadline(b, expire);
  const dc = new Deadline(c, expire);
  da.arm(30);
  db.arm(30);
  dc.arm(30);
  // The head goes first: the list's timer was set for it and must still serve the others.
  da.disarm();
  dc.disarm();
  assert.equal(da.armed, false);
  assert.equal(db.armed, true);
  await sleep(90);
  assert.deepEqual([a.fired, b.fired, c.fired], [0, 1, 0]);
  assert.equal(db.armed, false);
});

test('re-arming moves the deadline (one try after another)', async () => {
  const p = probe('p');
  const d = new Deadline(p, expire);
  d.arm(30);
  await sleep(15);
  const rearmedAt = performance.now();
  d.arm(30);
  await sleep(90);
  // Once, and by the second arming's time: the first one (15 ms earlier) was replaced.
  assert.equal(p.fired, 1);
  assert.ok(p.firedAt - rearmedAt >= 30, `fired ${p.firedAt - rearmedAt} ms after re-arming`);
});

test('a short deadline does not wait behind a long one', async () => {
  const long = probe('long');
  const short = probe('short');
  const dl = new Deadline(long, expire);
  dl.arm(1000);
  new Deadline(short, expire).arm(20);
  await sleep(80);
  assert.equal(short.fired, 1);
  assert.equal(long.fired, 0);
  dl.disarm();
});

test('an expiry may arm a deadline of the same duration again', async () => {
  const p = probe('p');
  const d: Deadline<Probe> = new Deadline(p, (x: Probe) => {
    expire(x);
    if (x.fired < 3) d.arm(10);
  });
  d.arm(10);
  await sleep(150);
  assert.equal(p.fired, 3);
  assert.equal(d.armed, false);
});
