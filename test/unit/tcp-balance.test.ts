/**
 * The broker's balancing algorithms, ported from HAProxy, pick for pick. The expected sequences
 * are what HAProxy 2.6.12 itself gave for the same servers in the scenarios of
 * test/integration/haproxy-differential.test.ts (recorded from its HAProxy half), unless a test
 * says it follows HAProxy's source (lb_*.c, cfgparse.c) instead.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  balanceCells,
  LOCK,
  lockBalance,
  ORDER,
  releaseBalanceLockOf,
  STAMP,
  serverAt,
  unlockBalance,
} from '../../engine/shared/balance-memory.ts';
import { allocateBackend, BackendMemory } from '../../engine/shared/tcp-memory.ts';
import { FirstAvailable, serverIds } from '../../workers/tcp/balance/first.ts';
import { FastWeightedLeastConn } from '../../workers/tcp/balance/fwlc.ts';
import { FastWeightedRoundRobin } from '../../workers/tcp/balance/fwrr.ts';
import { sourceHash, WeightMap } from '../../workers/tcp/balance/map.ts';
import {
  ALL_FULL,
  NO_SERVER,
  type Picker,
  type ServerSlots,
} from '../../workers/tcp/balance/slots.ts';

const NAMES = 'abcdefgh';

/** Servers as arrays: up or not, sessions now, maxconn (0: none). */
class Servers implements ServerSlots {
  readonly up: boolean[];
  readonly cur: number[];
  readonly max: number[];
  constructor(count: number, max: number[] = []) {
    this.up = Array(count).fill(true);
    this.cur = Array(count).fill(0);
    this.max = Array.from({ length: count }, (_, i) => max[i] ?? 0);
  }
  usable(s: number): boolean {
    return this.up[s];
  }
  hasSlot(s: number): boolean {
    return this.max[s] === 0 || this.cur[s] < this.max[s];
  }
  reserve(s: number): boolean {
    if (!this.hasSlot(s)) return false;
    this.cur[s]++;
    return true;
  }
  current(s: number): number {
    return this.cur[s];
  }
}

function cells(servers: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(balanceCells(servers) * 4));
}

/** One session picked and closed at once, `count` times: the servers' names. */
function inARow(picker: Picker, servers: Servers, count: number, names = NAMES): string {
  let out = '';
  for (let i = 0; i < count; i++) {
    const s = picker.pick(servers, -1, 0);
    assert.ok(s >= 0, `pick ${i} gave ${s}`);
    servers.cur[s]--;
    out += names[s];
  }
  return out;
}

/** `count` sessions picked and held. */
function held(picker: Picker, servers: Servers, count: number, names = NAMES): string {
  let out = '';
  for (let i = 0; i < count; i++) out += names[picker.pick(servers, -1, 0)];
  return out;
}

function fwrr(
  weights: number[],
  backup: boolean[] = [],
  allBackups = false,
  at = cells(weights.length),
) {
  const b = weights.map((_, i) => backup[i] ?? false);
  return new FastWeightedRoundRobin(at, weights, b, allBackups, 0);
}

describe('roundrobin: HAProxy fwrr (lb_fwrr.c)', () => {
  it('weights 3:1:2 give a c a b a c, every cycle (nginx would give a c a b c a)', () => {
    assert.equal(inARow(fwrr([3, 1, 2]), new Servers(3), 12), 'acabac'.repeat(2));
  });

  it('weights 5:3:1 give a a b a c b a a b, every cycle', () => {
    assert.equal(inARow(fwrr([5, 3, 1]), new Servers(3), 18), 'aabacbaab'.repeat(2));
  });

  it('equal weights go in declaration order', () => {
    assert.equal(inARow(fwrr([1, 1, 1]), new Servers(3), 7), 'abcabca');
  });

  it('a full server is passed over and keeps its turn (a maxconn 1 held; weights 1:2:1)', () => {
    const servers = new Servers(3, [1]);
    const rr = fwrr([1, 2, 1]);
    // b first (heaviest), then a, held: a is full.
    assert.equal(held(rr, servers, 1), 'b');
    assert.equal(held(rr, servers, 1), 'a');
    servers.cur[1]--;
    assert.equal(inARow(rr, servers, 7), 'bcbbcbb');
    servers.cur[0]--;
    assert.equal(inARow(rr, servers, 5), 'cbabc');
  });

  it('a server down and back (weights a 3, b 1, e 2): placed from the current position', () => {
    const servers = new Servers(3);
    const rr = fwrr([3, 1, 2]);
    assert.equal(inARow(rr, servers, 5, 'abe'), 'aeaba');
    servers.up[2] = false;
    assert.equal(inARow(rr, servers, 7, 'abe'), 'aaabaaa');
    servers.up[2] = true;
    assert.equal(inARow(rr, servers, 12, 'abe'), 'baeaeabaeaea');
  });

  it('one process-wide order: two workers taking turns continue one sequence', () => {
    const shared = cells(3);
    const workers = [0, 1].map(
      (w) => new FastWeightedRoundRobin(shared, [3, 1, 2], [false, false, false], false, w),
    );
    const servers = new Servers(3);
    let out = '';
    for (let i = 0; i < 12; i++) {
      const s = workers[i % 3 === 0 ? 1 : 0].pick(servers, -1);
      servers.cur[s]--;
      out += NAMES[s];
    }
    assert.equal(out, 'acabac'.repeat(2));
  });

  it('two worker threads picking at once: no pick lost, the shared sequence intact', async () => {
    const shared = cells(3);
    const url = new URL('../helpers/balance-picker-worker.ts', import.meta.url);
    const picks = 30_000;
    const counts = await Promise.all(
      [0, 1].map(
        (worker) =>
          new Promise<number[]>((resolve, reject) => {
            const w = new Worker(url, {
              workerData: { cells: shared.buffer, weights: [3, 1, 2], worker, picks },
            });
            w.once('message', resolve).once('error', reject);
          }),
      ),
    );
    // 60000 picks are 10000 whole cycles: exactly 30000, 10000, 20000, however they interleave.
    assert.deepEqual(
      [0, 1, 2].map((s) => counts[0][s] + counts[1][s]),
      [30_000, 10_000, 20_000],
    );
    const next = new FastWeightedRoundRobin(shared, [3, 1, 2], [false, false, false], false, 0);
    assert.equal(
      inARow(next, new Servers(3), 6),
      'acabac',
      'the next cycle starts where it should',
    );
  });

  it('(from lb_fwrr.c) the server to avoid is passed over unless it is the only one with a slot', () => {
    const servers = new Servers(3, [0, 1, 1]);
    const rr = fwrr([1, 1, 1]);
    assert.equal(rr.pick(servers, 0), 1);
    assert.equal(rr.pick(servers, 0), 2);
    // b and c full: a, avoided, is the last resort.
    assert.equal(rr.pick(servers, 0), 0);
  });

  it('(from lb_fwrr.c) every server full: ALL_FULL; none usable: NO_SERVER', () => {
    const servers = new Servers(2, [1, 1]);
    const rr = fwrr([1, 1]);
    assert.equal(held(rr, servers, 2), 'ab');
    assert.equal(rr.pick(servers, -1), ALL_FULL);
    servers.up.fill(false);
    assert.equal(rr.pick(servers, -1), NO_SERVER);
  });

  it('(from lb_fwrr.c) backups: the first usable one only, unless allbackups: then by weight', () => {
    const servers = new Servers(3);
    servers.up[0] = false;
    assert.equal(inARow(fwrr([1, 1, 1], [false, true, true]), servers, 4), 'bbbb');
    assert.equal(inARow(fwrr([1, 1, 1], [false, true, true], true), servers, 4), 'bcbc');
  });

  it('a changed config (weights) rebuilds the shared state instead of continuing it', () => {
    const shared = cells(3);
    const servers = new Servers(3);
    assert.equal(inARow(fwrr([1, 1, 1], [], false, shared), servers, 2), 'ab');
    assert.equal(inARow(fwrr([3, 1, 2], [], false, shared), servers, 6), 'acabac');
  });
});

describe('leastconn: HAProxy fwlc (lb_fwlc.c)', () => {
  const fwlc = (weights: number[], at = cells(weights.length)) =>
    new FastWeightedLeastConn(
      at,
      weights,
      weights.map(() => false),
      false,
      0,
    );

  it('ties go to the server whose count changed longest ago: a b c held, b released, then b', () => {
    const servers = new Servers(3);
    const lc = fwlc([1, 1, 1]);
    assert.equal(held(lc, servers, 3), 'abc');
    servers.cur[1]--;
    lc.moved(1);
    assert.equal(held(lc, servers, 1), 'b');
  });

  it('weights 2:1:1, c maxconn 2: seven held, two released, two more', () => {
    const servers = new Servers(3, [0, 0, 2]);
    const lc = fwlc([2, 1, 1]);
    assert.equal(held(lc, servers, 7), 'abcaabc');
    for (const s of [1, 0]) {
      servers.cur[s]--;
      lc.moved(s);
    }
    assert.equal(held(lc, servers, 2), 'ab');
  });

  it('the key: 0 when idle, else (sessions + 1) × 4096 / (weight × 16)', () => {
    const lc = fwlc([1, 3]);
    assert.deepEqual([lc.key(0, 0), lc.key(0, 1), lc.key(0, 2), lc.key(1, 1)], [0, 512, 768, 170]);
  });

  it('a server down and back (a, b, e; four held, then released in order): back after its equals', () => {
    const servers = new Servers(3);
    const lc = fwlc([1, 1, 1]);
    const round = () => {
      const picked: number[] = [];
      for (let i = 0; i < 4; i++) picked.push(lc.pick(servers, -1));
      for (const s of picked) {
        servers.cur[s]--;
        lc.moved(s);
      }
      return picked.map((s) => 'abe'[s]).join('');
    };
    assert.equal(round(), 'abea');
    servers.up[2] = false;
    assert.equal(round(), 'baba');
    servers.up[2] = true;
    assert.equal(round(), 'baeb');
  });
});

describe('first: HAProxy fas (lb_fas.c)', () => {
  it('ids as cfgparse.c numbers them: explicit ones kept, the counter steps on after every server', () => {
    assert.deepEqual(serverIds([3, null, 1]), [3, 2, 1]);
    // From cfgparse.c: after a (id 2) the counter is 2, taken, so b is 3, c is 4.
    assert.deepEqual(serverIds([2, null, null]), [2, 3, 4]);
    assert.deepEqual(serverIds([null, null, 1]), [2, 3, 1]);
  });

  it('the lowest id with a free slot (c id 1, b numbered 2, a id 3; maxconn 1 each)', () => {
    const servers = new Servers(3, [1, 1, 1]);
    const first = new FirstAvailable(serverIds([3, null, 1]), [false, false, false], false);
    assert.equal(held(first, servers, 3), 'cba');
    assert.equal(first.pick(servers, -1), ALL_FULL);
  });
});

describe('source: HAProxy map-based hash (lb_map.c, get_server_sh)', () => {
  it('the hash of an IPv4 client is its address as a number; IPv6 XORs its four words', () => {
    assert.equal(sourceHash('127.0.0.1:5555'), 0x7f000001);
    assert.equal(sourceHash('10.1.2.3:1'), 0x0a010203);
    assert.equal(sourceHash('255.255.255.255:1'), 0xffffffff);
    assert.equal(sourceHash('::1:5555'), 1);
    assert.equal(
      sourceHash('2001:db8::ff00:42:8329:443'),
      (0x20010db8 ^ 0 ^ 0xff00 ^ 0x00428329) >>> 0,
    );
    assert.equal(sourceHash('::ffff:127.0.0.1:80'), (0xffff ^ 0x7f000001) >>> 0);
    assert.equal(sourceHash('unix:0'), 0);
  });

  it('weights 2:4:6 (a map of 1:2:3): 127.0.0.1 up to .30 reach c a c b c b, repeating', () => {
    const servers = new Servers(3);
    const map = new WeightMap([2, 4, 6], [false, false, false], false);
    let out = '';
    for (let i = 1; i <= 30; i++) {
      const s = map.pick(servers, -1, sourceHash(`127.0.0.${i}:40000`));
      servers.cur[s]--;
      out += NAMES[s];
    }
    assert.equal(out, 'cacbcb'.repeat(5));
  });

  it('the map is rebuilt when a server goes down and back (a, b, e)', () => {
    const servers = new Servers(3);
    const map = new WeightMap([1, 1, 1], [false, false, false], false);
    const twelve = () => {
      let out = '';
      for (let i = 1; i <= 12; i++) {
        const s = map.pick(servers, -1, sourceHash(`127.0.0.${i}:1`));
        servers.cur[s]--;
        out += 'abe'[s];
      }
      return out;
    };
    assert.equal(twelve(), 'eab'.repeat(4));
    servers.up[2] = false;
    assert.equal(twelve(), 'ba'.repeat(6));
    servers.up[2] = true;
    assert.equal(twelve(), 'eab'.repeat(4));
  });

  it('with one server in use the address is not hashed; the server found waits when full', () => {
    const servers = new Servers(2, [0, 1]);
    const map = new WeightMap([1, 1], [false, false], false);
    servers.up[0] = false;
    assert.equal(map.pick(servers, -1, 0x7f000001), 1);
    assert.equal(map.pick(servers, -1, 0x7f000001), ALL_FULL);
  });
});

describe('the shared balancing memory', () => {
  it('a dead worker holding the lock does not block the others', () => {
    const c = cells(1);
    lockBalance(c, 3);
    assert.equal(Atomics.load(c, LOCK), 4);
    releaseBalanceLockOf(c, 2);
    assert.equal(Atomics.load(c, LOCK), 4, 'another worker cannot free it');
    releaseBalanceLockOf(c, 3);
    assert.equal(Atomics.load(c, LOCK), 0);
    lockBalance(c, 0);
    unlockBalance(c);
  });

  it("BackendMemory.forgetWorker frees the worker's balancing lock", () => {
    const m = new BackendMemory(allocateBackend(2, 2), 2, 2);
    lockBalance(m.balance, 1);
    m.forgetWorker(1);
    assert.equal(Atomics.load(m.balance, LOCK), 0);
  });

  it('insertion stamps are renumbered before they could wrap, keeping the order', () => {
    const servers = new Servers(3);
    const c = cells(3);
    const lc = new FastWeightedLeastConn(c, [1, 1, 1], [false, false, false], false, 0);
    assert.equal(held(lc, servers, 3), 'abc');
    c[STAMP] = 2 ** 30;
    servers.cur[0]--;
    lc.moved(0);
    assert.deepEqual(
      [0, 1, 2].map((s) => c[serverAt(s) + ORDER]),
      [4, 1, 2],
      'renumbered by rank (a 0, b 1, c 2), then a stamped after them',
    );
    assert.equal(held(lc, servers, 1), 'a');
  });
});
