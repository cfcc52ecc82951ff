// The broker's pure parts: shared-memory slots and addresses, the cancel-key table, the
// rise/fall counter, PROXY protocol headers (the balancing algorithms: tcp-balance.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RiseFall } from '../../engine/health/rise-fall.ts';
import { allocateCancelKeys, CancelKeys } from '../../engine/shared/cancel-keys.ts';
import { allocateBackend, BackendMemory, ServiceMemory } from '../../engine/shared/tcp-memory.ts';
import { keyWord } from '../../workers/tcp/postgres/protocol.ts';
import { proxyHeader } from '../../workers/tcp/proxy-header.ts';

describe('BackendMemory', () => {
  it('reserves slots up to maxconn across workers, and gives a dead worker’s back', () => {
    const m = new BackendMemory(allocateBackend(2, 3), 2, 3);
    assert.equal(m.reserve(0, 2, 0), true);
    assert.equal(m.reserve(0, 2, 1), true);
    assert.equal(m.reserve(0, 2, 2), false, 'maxconn 2 holds across workers');
    assert.equal(m.current(0), 2);
    assert.equal(m.maxSessions(0), 2);
    m.release(0, 0);
    assert.equal(m.reserve(0, 2, 2), true);
    m.reserve(1, 0, 1);
    m.enqueue(1);
    m.forgetWorker(1);
    assert.equal(m.current(0), 1, 'worker 1’s slot on server 0 is given back');
    assert.equal(m.current(1), 0);
    assert.equal(m.queued(), 0);
    assert.equal(m.queueMax(), 1);
  });

  it('sums per-worker counters and keeps addresses whole (v4 and v6)', () => {
    const m = new BackendMemory(allocateBackend(1, 2), 1, 2);
    m.count(0, 0, 1, 100);
    m.count(1, 0, 1, 23);
    assert.equal(m.total(0, 'bin'), 123);
    assert.equal(m.address(0), null);
    m.setAddress(0, '10.1.2.3');
    assert.equal(m.address(0), '10.1.2.3');
    m.setAddress(0, '::1');
    assert.equal(m.address(0), '0:0:0:0:0:0:0:1');
    m.setAddress(0, 'fd00:1::2');
    assert.equal(m.address(0), 'fd00:1:0:0:0:0:0:2');
    // An IPv4 tail in IPv6 text (NAT64, v4-mapped): its bytes, not hex groups read from "10.0".
    m.setAddress(0, '64:ff9b::10.0.0.1');
    assert.equal(m.address(0), '64:ff9b:0:0:0:0:a00:1');
    m.setAddress(0, null);
    assert.equal(m.hasAddress(0), false);
  });

  it('ServiceMemory: maxconn across workers, totals', () => {
    const m = new ServiceMemory(ServiceMemory.allocate(3), 3);
    assert.equal(m.enter(0, 2), true);
    assert.equal(m.enter(2, 2), true);
    assert.equal(m.enter(1, 2), false);
    m.bytes(0, 10, 20);
    m.forgetWorker(2);
    assert.equal(m.current(), 1);
    assert.deepEqual(m.totals(), { stot: 2, bin: 10, bout: 20 });
  });
});

describe('CancelKeys', () => {
  it('finds the server of a key, forgets removed ones, and survives collisions', () => {
    const keys = new CancelKeys(allocateCancelKeys(16));
    const slots = Array.from({ length: 500 }, (_, i) => keys.add(1000 + i, i * 7919, i % 3));
    for (let i = 0; i < 500; i++) assert.equal(keys.find(1000 + i, i * 7919), i % 3);
    assert.equal(keys.find(1000, 1), -1, 'a wrong secret is unknown');
    keys.remove(slots[10]);
    assert.equal(keys.find(1010, 10 * 7919), -1);
    assert.equal(keys.find(1011, 11 * 7919), 2, 'removing one leaves its neighbours');
  });

  it('folds a protocol 3.2 key longer than 4 bytes; a 4-byte key is its own word', () => {
    assert.equal(keyWord(Uint8Array.from([0xde, 0xad, 0xbe, 0xef])), 0xdeadbeef | 0);
    const long = Uint8Array.from({ length: 32 }, (_, i) => i);
    assert.equal(keyWord(long), keyWord(long.slice()));
    assert.notEqual(keyWord(long), keyWord(Uint8Array.from({ length: 32 }, (_, i) => i + 1)));
  });
});

describe('RiseFall', () => {
  it('down at the first failure before any pass, then after fall failures; up after rise passes', () => {
    const r = new RiseFall(2, 3);
    assert.equal(r.record(false), true);
    assert.equal(r.up, false);
    assert.equal(r.record(true), false);
    assert.equal(r.record(true), true);
    assert.equal(r.up, true);
    assert.equal(r.record(false), false);
    assert.equal(r.record(false), false);
    assert.equal(r.record(true), false, 'a pass resets the failures');
    r.record(false);
    r.record(false);
    assert.equal(r.record(false), true);
    assert.equal(r.up, false);
  });
});

describe('proxyHeader', () => {
  it('v1 text for IPv4 and IPv6', () => {
    assert.equal(
      proxyHeader('v1', '127.0.0.1:5000', '127.0.0.1:5432').toString(),
      'PROXY TCP4 127.0.0.1 127.0.0.1 5000 5432\r\n',
    );
    assert.equal(
      proxyHeader('v1', '::1:5000', '::1:5432').toString(),
      'PROXY TCP6 ::1 ::1 5000 5432\r\n',
    );
    assert.equal(proxyHeader('v1', 'unix:0', '127.0.0.1:1').toString(), 'PROXY UNKNOWN\r\n');
  });
  it('v2 binary: signature, version/command, family, addresses, ports', () => {
    const h = proxyHeader('v2', '10.0.0.1:4000', '127.0.0.1:5432');
    assert.equal(h.subarray(0, 12).toString('hex'), '0d0a0d0a000d0a515549540a');
    assert.equal(h[12], 0x21);
    assert.equal(h[13], 0x11);
    assert.equal(h.readUInt16BE(14), 12);
    assert.deepEqual([...h.subarray(16, 24)], [10, 0, 0, 1, 127, 0, 0, 1]);
    assert.equal(h.readUInt16BE(24), 4000);
    assert.equal(h.readUInt16BE(26), 5432);
    assert.equal(h.length, 28);
    const v6 = proxyHeader('v2', '::1:4000', '::1:5432');
    assert.equal(v6[13], 0x21);
    assert.equal(v6.length, 16 + 36);
  });
});
