// Random and mutated bytes for classifyStartup and BackendKeyScanner (fixed seeds, bounded
// counts): neither throws, neither reads a byte outside the window it was given (checked by a
// Proxy that watches every index read, and by changing the bytes around the window, which must
// not change the answer), and the scanner's answer does not depend on how the bytes are split.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendKeyScanner, type KeyScanStatus } from '../../workers/tcp/postgres/backend-key.ts';
import {
  CANCEL_REQUEST_CODE,
  classifyStartup,
  GSSENC_REQUEST_CODE,
  SSL_REQUEST_CODE,
} from '../../workers/tcp/postgres/startup.ts';
import { below, pick, prng } from '../helpers/prng.ts';

const random = prng(0x5eed_0010);

function int32s(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  for (let i = 0; i < values.length; i++) b.writeInt32BE(values[i] | 0, 4 * i);
  return b;
}
function msg(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32s(4 + body.length), body]);
}
function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = below(random, 256);
  return b;
}

/** Valid client first messages to mutate. */
const CLIENT_SEEDS = [
  int32s(8, SSL_REQUEST_CODE),
  int32s(8, GSSENC_REQUEST_CODE),
  Buffer.concat([int32s(16, CANCEL_REQUEST_CODE, 1234), Buffer.from([1, 2, 3, 4])]),
  Buffer.concat([int32s(44, CANCEL_REQUEST_CODE, 99), randomBytes(32)]),
  Buffer.concat([int32s(8 + 15, 196608), Buffer.from('user\0app\0db\0x\0\0')]),
  Buffer.from([0x16, 3, 1, 0, 0xc8, 1]),
];
/** Valid server startup replies to mutate. */
const SERVER_SEEDS = [
  Buffer.concat([
    msg('R', int32s(0)),
    msg('S', Buffer.from('server_version\x0015\0')),
    msg('K', Buffer.concat([int32s(4321), randomBytes(4)])),
    msg('Z', Buffer.from('I')),
  ]),
  Buffer.concat([
    Buffer.from('N'),
    msg('R', int32s(0)),
    msg('K', Buffer.concat([int32s(7), randomBytes(32)])),
    msg('Z', Buffer.from('I')),
  ]),
  Buffer.concat([msg('R', int32s(10)), msg('E', Buffer.from('SFATAL\0\0'))]),
];

function mutate(seed: Buffer): Buffer {
  let b = Buffer.from(seed);
  const edits = 1 + below(random, 4);
  for (let e = 0; e < edits; e++) {
    const at = below(random, b.length + 1);
    switch (below(random, 5)) {
      case 0:
        if (b.length) b[Math.min(at, b.length - 1)] ^= 1 << below(random, 8);
        break;
      case 1:
        if (b.length) b[Math.min(at, b.length - 1)] = below(random, 256);
        break;
      case 2:
        b = b.subarray(0, at);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), randomBytes(below(random, 8)), b.subarray(at)]);
        break;
      default:
        b = Buffer.concat([b, b.subarray(at)]);
    }
  }
  return b;
}

function sample(seeds: readonly Buffer[]): Buffer {
  return below(random, 3) === 0 ? randomBytes(below(random, 64)) : mutate(pick(random, seeds));
}

/** A view of `bytes` that fails the test on any index read outside [from, to). */
function guarded(bytes: Uint8Array, from: number, to: number): Uint8Array {
  return new Proxy(bytes, {
    get(target, prop) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) {
        const i = Number(prop);
        if (i < from || i >= to || i >= target.length)
          assert.fail(`read index ${i} outside [${from}, ${Math.min(to, target.length)})`);
        return target[i];
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** `bytes` placed at `offset` in a larger buffer whose other bytes are all `fill`. */
function framed(bytes: Buffer, offset: number, fill: number): Buffer {
  const b = Buffer.alloc(offset + bytes.length + 16, fill);
  bytes.copy(b, offset);
  return b;
}

function describeKind(r: ReturnType<typeof classifyStartup>): string {
  return JSON.stringify(r, (_k, v) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
  );
}

describe('classifyStartup under random and mutated input', () => {
  it('the read guard itself catches an out-of-window read', () => {
    const g = guarded(Buffer.from([1, 2, 3, 4]), 1, 3);
    assert.equal(g[1], 2);
    assert.throws(() => g[3], /read index 3 outside \[1, 3\)/);
    assert.throws(() => g[0], /read index 0/);
  });

  it('never throws, never reads outside its window, answers the same whatever surrounds it', () => {
    const kinds = new Set<string>();
    for (let n = 0; n < 20000; n++) {
      const bytes = sample(CLIENT_SEEDS);
      const offset = below(random, 5);
      const a = classifyStartup(framed(bytes, offset, 0x00), offset, bytes.length);
      kinds.add(a.kind);
      const b = classifyStartup(framed(bytes, offset, 0xff), offset, bytes.length);
      assert.equal(describeKind(a), describeKind(b), `case ${n}: ${bytes.toString('hex')}`);
      if (n % 4 === 0) {
        const c = classifyStartup(guarded(bytes, 0, bytes.length), 0, bytes.length);
        assert.equal(describeKind(c), describeKind(a));
      }
    }
    // The inputs reached every answer, not just 'invalid'.
    assert.deepEqual([...kinds].sort(), [
      'cancel',
      'direct-tls',
      'gssenc-request',
      'incomplete',
      'invalid',
      'ssl-request',
      'startup',
    ]);
  });

  it('takes any offset and length, even past the end or negative, without reading out of range', () => {
    for (let n = 0; n < 3000; n++) {
      const bytes = sample(CLIENT_SEEDS);
      const offset = below(random, bytes.length + 4) - 2;
      const length = below(random, bytes.length + 40) - 4;
      const to = offset + Math.max(length, 0);
      const r = classifyStartup(guarded(bytes, Math.max(offset, 0), to), offset, length);
      assert.ok(typeof r.kind === 'string');
    }
    for (const [offset, length] of [
      [Number.NaN, 8],
      [0, Number.NaN],
      [0, Number.POSITIVE_INFINITY],
      [Number.MAX_SAFE_INTEGER, 8],
    ]) {
      const bytes = CLIENT_SEEDS[0];
      assert.ok(classifyStartup(guarded(bytes, 0, bytes.length), offset, length).kind);
    }
  });
});

interface ScanAnswer {
  status: KeyScanStatus;
  pid: number;
  key: string | null;
}
function answer(s: BackendKeyScanner): ScanAnswer {
  return {
    status: s.status,
    pid: s.key ? s.pid : 0,
    key: s.key ? Buffer.from(s.key).toString('hex') : null,
  };
}

describe('BackendKeyScanner under random and mutated input', () => {
  it('never throws or reads out of range, and answers the same however the bytes are split', () => {
    const statuses = new Set<string>();
    let keys = 0;
    for (let n = 0; n < 4000; n++) {
      const bytes = sample(SERVER_SEEDS);
      const whole = new BackendKeyScanner();
      whole.feed(bytes, 0, bytes.length);
      const expected = answer(whole);
      statuses.add(expected.status);
      if (expected.key !== null) keys++;
      if (expected.key !== null) assert.ok(expected.key.length >= 8 && expected.key.length <= 512);

      // Random chunks, each passed inside a framed buffer through a guard.
      const split = new BackendKeyScanner();
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + below(random, 12);
        const chunk = bytes.subarray(at, at + size);
        const offset = below(random, 3);
        const frame = framed(chunk, offset, below(random, 256));
        split.feed(guarded(frame, offset, offset + chunk.length), offset, chunk.length);
        at += size;
      }
      assert.deepEqual(answer(split), expected, `case ${n}: ${bytes.toString('hex')}`);
    }
    assert.deepEqual([...statuses].sort(), [
      'encrypted',
      'invalid',
      'ready',
      'refused',
      'scanning',
    ]);
    assert.ok(keys > 100, `only ${keys} inputs carried a readable key`);
  });
});
