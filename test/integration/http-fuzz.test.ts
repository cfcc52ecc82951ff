// Fuzzes the HTTP engine's ingress (node engine, in-process) with random and mutated requests
// (seeded: a failure repeats) while checked clients keep asking and must keep getting correct
// answers. Every fuzz answer must be a well-formed status line or a closed connection.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import type { HttpProxy } from '../../workers/http/proxy.ts';
import { Backend, RawHttp, type SeenRequest, serverSpec, startProxy } from '../helpers/http.ts';
import { below, pick, prng } from '../helpers/prng.ts';

const SEED = Number(process.env.LEGATE_FUZZ_SEED ?? 11);
const FUZZ_REQUESTS = 400;

const VALID: readonly string[] = [
  'GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
  'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'HEAD / HTTP/1.0\r\n\r\n',
  'PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok',
  'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
];

const PIECES: readonly string[] = [
  '\r\n',
  '\n',
  '\r',
  ' ',
  ':',
  '\x00',
  'Content-Length: 3\r\n',
  'Content-Length: -5\r\n',
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: gzip, chunked\r\n',
  'ffffffffffffffff\r\n',
  '0\r\n\r\n',
  'HTTP/1.1',
  'HTTP/9.9',
  '%00',
  '\xff\xfe',
  'Host: y\r\n',
  'Connection: close\r\n',
];

/** One fuzz request: random bytes, or a valid request with a few mutations. */
function fuzzRequest(random: () => number): Buffer {
  if (random() < 0.2) {
    const n = 1 + below(random, 300);
    return Buffer.from(Array.from({ length: n }, () => below(random, 256)));
  }
  let text = pick(random, VALID);
  const mutations = 1 + below(random, 4);
  for (let m = 0; m < mutations; m++) {
    const at = below(random, text.length + 1);
    const kind = below(random, 4);
    if (kind === 0) text = text.slice(0, at) + pick(random, PIECES) + text.slice(at);
    else if (kind === 1) text = text.slice(0, at) + text.slice(at + 1 + below(random, 8));
    else if (kind === 2)
      text = text.slice(0, at) + String.fromCharCode(below(random, 256)) + text.slice(at + 1);
    else text = text.slice(0, at);
  }
  return Buffer.from(text, 'latin1');
}

describe('http proxy: fuzzed ingress beside checked clients', () => {
  let backend: Backend;
  let proxy: HttpProxy;
  let port: number;

  before(async () => {
    backend = await Backend.start();
    ({ proxy, port } = await startProxy({
      servers: [serverSpec('web:80', backend.port)],
      clientHeaderTimeoutMs: 500,
      clientBodyTimeoutMs: 500,
    }));
  });
  after(async () => {
    await proxy.close();
    await backend.stop();
  });

  it(`${FUZZ_REQUESTS} fuzz requests (seed ${SEED}): well-formed answers, checked clients unharmed`, {
    timeout: 120_000,
  }, async () => {
    const random = prng(SEED);
    let stop = false;
    let checked = 0;
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
    const checkers = Array.from({ length: 4 }, async (_, k) => {
      for (let i = 0; !stop; i++) {
        const body = i % 2 === 0 ? Buffer.alloc(10 + k + i, 1) : null;
        const r = await pool.request({
          path: `/check/${k}/${i}`,
          method: body ? 'POST' : 'GET',
          body,
        });
        assert.equal(r.statusCode, 200);
        const seen = (await r.body.json()) as SeenRequest;
        assert.equal(seen.url, `/check/${k}/${i}`);
        assert.equal(seen.bodyBytes, body?.length ?? 0);
        checked++;
      }
    });
    const statuses = new Map<string, number>();
    try {
      for (let batch = 0; batch < FUZZ_REQUESTS / 10; batch++) {
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            const bytes = fuzzRequest(random);
            const c = await RawHttp.connect(port);
            try {
              c.socket.write(bytes);
              // Half-close: a request cut short is then answered or dropped, not left waiting.
              c.socket.end();
              const text = await c.until(() => false, 3000).catch(() => c.text);
              const line = text.slice(0, text.indexOf('\r\n'));
              if (text.length > 0)
                assert.match(
                  line,
                  /^HTTP\/1\.1 (\d{3}) [A-Za-z -]*$/,
                  `for ${JSON.stringify(bytes.toString('latin1'))}: ${JSON.stringify(text.slice(0, 200))}`,
                );
              const key = text.length === 0 ? 'closed' : line.slice(9, 12);
              statuses.set(key, (statuses.get(key) ?? 0) + 1);
            } finally {
              c.close();
            }
          }),
        );
      }
    } finally {
      stop = true;
      await Promise.all(checkers);
      await pool.close();
    }
    assert.ok(checked > 0, 'the checked clients made no request');
    // Nothing legate made itself may be a 5xx: the backend is healthy throughout.
    for (const [status] of statuses)
      assert.ok(!status.startsWith('5'), `a fuzz request got ${status}: ${[...statuses]}`);
    assert.ok((statuses.get('400') ?? 0) > 0, `no fuzz request was refused: ${[...statuses]}`);
  });
});
