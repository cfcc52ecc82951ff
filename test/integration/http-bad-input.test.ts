// Bad input and failing upstreams through the HTTP engine (node engine, run in-process): each
// gets nginx's status, and bad requests never reach a backend complete.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import type { HttpProxy } from '../../workers/http/proxy.ts';
import { Backend, RawHttp, rawRequest, serverSpec, startProxy, statusOf } from '../helpers/http.ts';
import { freePort } from '../helpers/processes.ts';

const run = promisify(execFile);

/** A TCP server that answers every connection with `behave` (reset, garbage, silence). */
async function fakeUpstream(
  behave: (socket: Socket) => void,
): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    behave(socket);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    stop: () => {
      // A silent upstream's sockets would keep the server (and the test) open.
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('http proxy: bad requests get 400/413/414/408 and reach no backend', () => {
  let backend: Backend;
  let proxy: HttpProxy;
  let port: number;

  before(async () => {
    backend = await Backend.start();
    ({ proxy, port } = await startProxy({
      servers: [serverSpec('web:80', backend.port)],
      clientMaxBodySize: 1000,
      clientHeaderTimeoutMs: 300,
      clientBodyTimeoutMs: 300,
    }));
  });
  after(async () => {
    await proxy.close();
    await backend.stop();
  });

  const cases: [string, string, number][] = [
    [
      'Content-Length with Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ],
    [
      'two different Content-Lengths',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      400,
    ],
    [
      'the same Content-Length twice',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
      400,
    ],
    [
      'a Content-Length that is not a number',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello',
      400,
    ],
    ['a negative Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
    [
      'a chunk size that is not hex',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
      400,
    ],
    ['a request line over 8k', `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    [
      'a request line over the whole head limit',
      `GET /${'a'.repeat(40000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      414,
    ],
    ['one header over 8k', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`, 400],
    [
      'headers over 32k in all',
      `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 40 }, (_, i) => `X-H${i}: ${'c'.repeat(1000)}\r\n`).join('')}\r\n`,
      400,
    ],
    [
      'a declared body over client_max_body_size',
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n${'d'.repeat(1001)}`,
      413,
    ],
    ['a garbage request line', 'HELLO\r\n\r\n', 400],
    ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n', 400],
  ];
  for (const [what, req, status] of cases) {
    it(`${what} → ${status}`, async () => {
      const before = backend.seen.length;
      const text = await rawRequest(port, req);
      assert.equal(statusOf(text), status, text.slice(0, 300));
      assert.equal(backend.seen.length, before, 'the backend saw the request');
    });
  }

  it('a chunked body growing over client_max_body_size → 413; the backend never gets it whole', async () => {
    const c = await RawHttp.connect(port);
    try {
      c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let i = 0; i < 5; i++) c.socket.write(`12c\r\n${'e'.repeat(300)}\r\n`);
      const text = await c.until((t) => t.includes('\r\n\r\n'));
      assert.equal(statusOf(text), 413, text);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(backend.seen.every((s) => !(s.complete && s.bodyBytes > 1000)));
    } finally {
      c.close();
    }
  });

  it('no complete head in client_header_timeout → 408', async () => {
    const c = await RawHttp.connect(port);
    try {
      c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const text = await c.until(() => false, 5000);
      assert.equal(statusOf(text), 408, text);
    } finally {
      c.close();
    }
  });

  it('no body byte in client_body_timeout → 408, the backend never gets it whole', async () => {
    const c = await RawHttp.connect(port);
    const before = backend.seen.length;
    try {
      c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
      const text = await c.until(() => false, 5000);
      assert.equal(statusOf(text), 408, text);
      assert.ok(backend.seen.slice(before).every((s) => !s.complete));
    } finally {
      c.close();
    }
  });

  it('curl gets 413 for a body over the limit', async () => {
    const r = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--data-binary',
      'f'.repeat(2000),
      `http://127.0.0.1:${port}/`,
    ]);
    assert.equal(r.stdout, '413');
  });
});

describe('http proxy: failing upstreams get 502/504; connection errors try the next server', () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const s of stops.reverse()) await s();
  });

  /** `maxFails` 0 (no passive health) unless given: each request meets each server in turn. */
  async function proxyTo(ports: number[], maxFails = 0) {
    const o = await startProxy({
      servers: ports.map((p, i) => serverSpec(`s${i}:80`, p, { maxFails })),
      readTimeoutMs: 300,
      connectTimeoutMs: 300,
    });
    stops.push(() => o.proxy.close());
    return o;
  }

  async function fake(behave: (socket: Socket) => void): Promise<number> {
    const f = await fakeUpstream(behave);
    stops.push(() => f.stop());
    return f.port;
  }

  it('refused → 502', async () => {
    const { port } = await proxyTo([await freePort()]);
    const r = await request(`http://127.0.0.1:${port}/`);
    assert.equal(r.statusCode, 502);
    assert.match(await r.body.text(), /ECONNREFUSED|connect/);
  });

  it('reset → 502', async () => {
    const { port } = await proxyTo([await fake((s) => s.once('data', () => s.resetAndDestroy()))]);
    const r = await request(`http://127.0.0.1:${port}/`);
    assert.equal(r.statusCode, 502);
    await r.body.text();
  });

  it('an invalid response → 502', async () => {
    const { port } = await proxyTo([
      await fake((s) => s.once('data', () => s.end('SMTP ready\r\n\r\n'))),
    ]);
    const r = await request(`http://127.0.0.1:${port}/`);
    assert.equal(r.statusCode, 502);
    await r.body.text();
  });

  it('no response in proxy_read_timeout → 504', async () => {
    const { port, proxy } = await proxyTo([await fake(() => {})]);
    const r = await request(`http://127.0.0.1:${port}/`);
    assert.equal(r.statusCode, 504);
    await r.body.text();
    assert.equal(proxy.snapshot().upstreams[0].servers[0].counters.timeouts, 1);
  });

  it('GET: a refused server is skipped, the next one answers; counted as a retry', async () => {
    const good = await Backend.start();
    stops.push(() => good.stop());
    const { port, proxy } = await proxyTo([await freePort(), good.port]);
    for (let i = 0; i < 4; i++) {
      const r = await request(`http://127.0.0.1:${port}/`);
      assert.equal(r.statusCode, 200);
      await r.body.text();
    }
    const up = proxy.snapshot().upstreams[0];
    assert.equal(up.counters.status_2xx, 4);
    assert.ok(up.counters.retries >= 1);
    assert.equal(up.servers[0].counters.failures, up.counters.retries);
    assert.equal(good.seen.length, 4);
  });

  it('passive health: a server that failed max_fails times within fail_timeout gets no requests', async () => {
    const good = await Backend.start();
    stops.push(() => good.stop());
    const reset = await fake((s) => s.once('data', () => s.resetAndDestroy()));
    const { proxy, port } = await proxyTo([reset, good.port], 1);
    for (let i = 0; i < 6; i++) {
      const r = await request(`http://127.0.0.1:${port}/`);
      assert.equal(r.statusCode, 200);
      await r.body.text();
    }
    const up = proxy.snapshot().upstreams[0];
    // The first request met the reset server and was retried; it stays out for fail_timeout.
    assert.equal(up.counters.retries, 1);
    assert.equal(up.servers[0].counters.failures, 1);
    assert.equal(good.seen.length, 6);
  });

  it('GET: a reset is retried on the next server; a POST that was sent is not', async () => {
    const good = await Backend.start();
    stops.push(() => good.stop());
    const reset = await fake((s) => s.once('data', () => s.resetAndDestroy()));
    const { port } = await proxyTo([reset, good.port]);
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await request(`http://127.0.0.1:${port}/`);
      statuses.push(r.statusCode);
      await r.body.text();
    }
    assert.deepEqual(statuses, [200, 200]);
    const posts: number[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await request(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' });
      posts.push(r.statusCode);
      await r.body.text();
    }
    assert.deepEqual(posts.sort(), [200, 502]);
  });
});
