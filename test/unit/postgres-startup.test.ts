// classifyStartup (the client's first message) and BackendKeyScanner (the server's startup
// reply), with every message split at every byte boundary.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendKeyScanner } from '../../workers/tcp/postgres/backend-key.ts';
import {
  CANCEL_REQUEST_CODE,
  classifyStartup,
  GSSENC_REQUEST_CODE,
  SSL_REQUEST_CODE,
} from '../../workers/tcp/postgres/startup.ts';

function int32s(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  for (let i = 0; i < values.length; i++) b.writeInt32BE(values[i] | 0, 4 * i);
  return b;
}

function cancelRequest(pid: number, key: Buffer): Buffer {
  return Buffer.concat([int32s(12 + key.length, CANCEL_REQUEST_CODE, pid), key]);
}

function startup(params: Record<string, string>, version = 196608): Buffer {
  const body = Buffer.from(`${Object.entries(params).flat().join('\0')}\0\0`);
  return Buffer.concat([int32s(8 + body.length, version), body]);
}

/** A backend message: type, Int32 length, body. */
function msg(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

const param = (name: string, value: string) => msg('S', Buffer.from(`${name}\0${value}\0`));

describe('classifyStartup', () => {
  it('names each first message a client can send', () => {
    assert.deepEqual(classifyStartup(int32s(8, SSL_REQUEST_CODE), 0, 8), {
      kind: 'ssl-request',
      length: 8,
    });
    assert.deepEqual(classifyStartup(int32s(8, GSSENC_REQUEST_CODE), 0, 8), {
      kind: 'gssenc-request',
      length: 8,
    });
    const s = startup({ user: 'app', database: 'db' });
    assert.deepEqual(classifyStartup(s, 0, s.length), {
      kind: 'startup',
      length: s.length,
      major: 3,
      minor: 0,
    });
    const s32 = startup({ user: 'app' }, 196610);
    assert.deepEqual(classifyStartup(s32, 0, s32.length), {
      kind: 'startup',
      length: s32.length,
      major: 3,
      minor: 2,
    });
    // A TLS ClientHello record header: PostgreSQL 17 direct TLS.
    assert.deepEqual(classifyStartup(Buffer.from([0x16, 0x03, 0x01]), 0, 3), {
      kind: 'direct-tls',
    });
  });

  it('reads a cancel with a 3.0 key and with a variable 3.2 key, at any offset', () => {
    const c30 = cancelRequest(4242, Buffer.from([1, 2, 3, 4]));
    assert.deepEqual(classifyStartup(c30, 0, 16), {
      kind: 'cancel',
      length: 16,
      pid: 4242,
      key: new Uint8Array([1, 2, 3, 4]),
    });
    const key32 = Buffer.from(Array.from({ length: 32 }, (_, i) => 255 - i));
    const framed = Buffer.concat([Buffer.from('junk'), cancelRequest(-7, key32), Buffer.from('x')]);
    const r = classifyStartup(framed, 4, 44);
    assert.equal(r.kind, 'cancel');
    if (r.kind !== 'cancel') return;
    assert.deepEqual([r.length, r.pid, Buffer.from(r.key)], [44, -7, key32]);
    framed.fill(0); // the key is a copy, not a view of the caller's buffer
    assert.deepEqual(Buffer.from(r.key), key32);
  });

  it('is incomplete at every split point, and needs the whole cancel', () => {
    const c = cancelRequest(1, Buffer.alloc(32, 9));
    for (let n = 0; n < c.length; n++) {
      const r = classifyStartup(c, 0, n);
      assert.equal(r.kind, 'incomplete', `at ${n}`);
      if (r.kind === 'incomplete') assert.equal(r.needed, n < 8 ? 8 : 44);
    }
    const s = startup({ user: 'u' });
    for (let n = 0; n < 8; n++) assert.equal(classifyStartup(s, 0, n).kind, 'incomplete');
    assert.equal(classifyStartup(s, 0, 8).kind, 'startup');
    // The buffer ending first counts as the end, whatever length says.
    assert.equal(classifyStartup(c.subarray(0, 20), 0, 1000).kind, 'incomplete');
  });

  it('says why a first message is invalid', () => {
    const why = (b: Buffer, offset = 0, length = b.length) => {
      const r = classifyStartup(b, offset, length);
      return r.kind === 'invalid' ? r.reason : r.kind;
    };
    assert.equal(why(int32s(4, 196608)), 'startup packet length 4 is not within 8..10000');
    assert.equal(why(int32s(10001, 196608)), 'startup packet length 10001 is not within 8..10000');
    assert.equal(
      why(Buffer.from('GET / HTTP/1.1\r\n')),
      'startup packet length 1195725856 is not within 8..10000',
    );
    assert.equal(why(int32s(12, SSL_REQUEST_CODE, 0)), 'SSLRequest of length 12, not 8');
    assert.equal(why(int32s(16, GSSENC_REQUEST_CODE, 0, 0)), 'GSSENCRequest of length 16, not 8');
    assert.equal(
      why(int32s(12, CANCEL_REQUEST_CODE, 1)),
      'CancelRequest with a 0-byte key (4..256 allowed)',
    );
    assert.equal(
      why(int32s(300, CANCEL_REQUEST_CODE, 1)),
      'CancelRequest with a 288-byte key (4..256 allowed)',
    );
    assert.equal(why(int32s(8, (1234 << 16) | 9999)), 'unknown request code 1234.9999');
    assert.equal(why(int32s(8, 2 << 16)), 'unsupported protocol 2.0');
    assert.equal(why(int32s(8, 8), -1, 8), 'bad offset or length');
  });
});

/** A plaintext startup reply: trust auth, some ParameterStatus, the key, ReadyForQuery. */
function reply(pid: number, key: Buffer): Buffer {
  return Buffer.concat([
    msg('R', int32s(0)),
    param('server_version', '15.14'),
    param('client_encoding', 'UTF8'),
    param('application_name', 'x'.repeat(300)),
    msg('K', Buffer.concat([int32s(pid), key])),
    msg('Z', Buffer.from('I')),
  ]);
}

function scanAll(chunks: readonly Uint8Array[]): BackendKeyScanner {
  const s = new BackendKeyScanner();
  for (const c of chunks) s.feed(c, 0, c.length);
  return s;
}

describe('BackendKeyScanner', () => {
  const key4 = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
  const key32 = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));

  it('finds the key split at every byte boundary, and byte by byte', () => {
    for (const [pid, key] of [
      [12345, key4],
      [2147483647, key32],
    ] as const) {
      const bytes = reply(pid, key);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const s = scanAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
        assert.equal(s.status, 'ready', `cut at ${cut}`);
        assert.equal(s.pid, pid);
        assert.deepEqual(Buffer.from(s.key!), key);
      }
      const single = scanAll(Array.from(bytes, (b) => Uint8Array.of(b)));
      assert.deepEqual([single.status, single.pid, Buffer.from(single.key!)], ['ready', pid, key]);
    }
  });

  it('finds the key at every pair of cuts (three chunks)', () => {
    const bytes = reply(77, key4);
    // Cut around the K message and the headers next to it, every pair of positions there.
    const k = bytes.indexOf(0x4b);
    for (let a = k - 6; a <= k + 18; a++) {
      for (let b = a; b <= k + 24; b++) {
        const s = scanAll([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]);
        assert.deepEqual([s.status, s.pid], ['ready', 77], `cuts ${a},${b}`);
        assert.deepEqual(Buffer.from(s.key!), key4);
      }
    }
  });

  it('reads only the bytes it is given, at an offset, and ignores what follows ReadyForQuery', () => {
    const bytes = Buffer.concat([
      Buffer.from('garbage'),
      reply(5, key4),
      msg('E', Buffer.alloc(40)),
    ]);
    const s = new BackendKeyScanner();
    assert.equal(s.feed(bytes, 7, 20), 'scanning');
    assert.equal(s.feed(bytes, 27, bytes.length), 'ready');
    assert.equal(s.feed(Buffer.from('anything'), 0, 8), 'ready');
    assert.deepEqual([s.pid, Buffer.from(s.key!)], [5, key4]);
    assert.equal(s.done, true);
  });

  it("continues after an 'N' refusing SSL or GSS encryption; stops at 'S', 'G' or a TLS record", () => {
    const n = scanAll([Buffer.from('NN'), reply(9, key4)]);
    assert.deepEqual([n.status, n.pid], ['ready', 9]);
    assert.equal(scanAll([Buffer.from('S')]).status, 'encrypted');
    assert.equal(scanAll([Buffer.from('NG')]).status, 'encrypted');
    assert.equal(scanAll([Buffer.from([0x16, 3, 3, 0, 0x7a])]).status, 'encrypted');
  });

  it('stops refused at an ErrorResponse before ReadyForQuery, with no key', () => {
    const s = scanAll([msg('R', int32s(5, 0)), msg('E', Buffer.from('SFATAL\0C28P01\0\0'))]);
    assert.deepEqual([s.status, s.key], ['refused', null]);
  });

  it('skips large messages without keeping them', () => {
    const big = msg('N', Buffer.alloc(1 << 20, 0x41));
    const s = scanAll([
      msg('R', int32s(0)),
      big.subarray(0, 3),
      big.subarray(3),
      reply(3, key4).subarray(9),
    ]);
    assert.deepEqual([s.status, s.pid], ['ready', 3]);
  });

  it('says when the bytes are not PostgreSQL framing', () => {
    const short = scanAll([Buffer.from([0x52, 0, 0, 0, 2])]);
    assert.deepEqual([short.status, short.reason], ['invalid', "message 'R' has length 2"]);
    const bigKey = scanAll([msg('K', Buffer.alloc(4 + 300))]);
    assert.deepEqual(
      [bigKey.status, bigKey.reason],
      ['invalid', 'BackendKeyData with a 300-byte key'],
    );
    const noKey = scanAll([msg('K', Buffer.alloc(4))]);
    assert.equal(noKey.reason, 'BackendKeyData with a 0-byte key');
  });
});
