// The HTTP engine's data plane (workers/http/proxy.ts, node:http ingress) run in this process
// (the worker host that will run it is not merged yet) in front of real node:http backends,
// with curl, undici and raw sockets as clients: what the backend receives (nginx's proxy_pass
// defaults), framing, HEAD, HTTP/1.0, 100-continue, Upgrade tunnels, and the numbers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import type { HttpProxy } from '../../workers/http/proxy.ts';
import {
  Backend,
  completeResponse,
  RawHttp,
  rawRequest,
  type SeenRequest,
  serverSpec,
  startProxy,
  statusOf,
} from '../helpers/http.ts';

const run = promisify(execFile);

describe('http proxy (node engine): what the backend receives', () => {
  let backend: Backend;
  let proxy: HttpProxy;
  let port: number;

  before(async () => {
    backend = await Backend.start();
    ({ proxy, port } = await startProxy({ servers: [serverSpec('web:80', backend.port)] }));
  });
  after(async () => {
    await proxy.close();
    await backend.stop();
  });

  const last = (): SeenRequest => backend.seen[backend.seen.length - 1];

  it('passes the raw URI, sets Host to the upstream name, drops what nginx drops, adds no X-Forwarded-For', async () => {
    const text = await rawRequest(
      port,
      'GET /a/../b//c?x=%2F&y HTTP/1.1\r\nHost: client.example\r\nConnection: keep-alive, x-custom\r\n' +
        'Keep-Alive: timeout=5\r\nTE: trailers\r\nX_Under: 1\r\nX-Kept: yes\r\nAccept: */*\r\n' +
        'Upgrade-Insecure-Requests: 1\r\nConnection: close\r\n\r\n',
    );
    assert.equal(statusOf(text), 200, text);
    const seen = last();
    assert.equal(seen.url, '/a/../b//c?x=%2F&y');
    assert.equal(backend.header(seen, 'host'), 'backend');
    assert.equal(
      seen.rawHeaders.filter((_, i) => i % 2 === 0 && seen.rawHeaders[i].toLowerCase() === 'host')
        .length,
      1,
    );
    assert.equal(backend.header(seen, 'te'), undefined);
    assert.equal(backend.header(seen, 'x_under'), undefined);
    assert.equal(backend.header(seen, 'x-forwarded-for'), undefined);
    assert.equal(backend.header(seen, 'x-real-ip'), undefined);
    assert.equal(backend.header(seen, 'x-kept'), 'yes');
    assert.equal(backend.header(seen, 'upgrade-insecure-requests'), '1');
    // The documented difference: legate keeps upstream connections alive where nginx says close.
    assert.equal(backend.header(seen, 'connection'), 'keep-alive');
  });

  it('drops hop-by-hop response headers, replaces Server, hides X-Accel-*', async () => {
    backend.handler = (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, {
          'x-accel-redirect': '/internal',
          server: 'backend/1',
          'keep-alive': 'timeout=1',
          'x-app': 'a',
          'content-length': 2,
        });
        res.end('ok');
      });
    };
    try {
      const r = await request(`http://127.0.0.1:${port}/`);
      assert.equal(r.statusCode, 200);
      assert.equal(await r.body.text(), 'ok');
      assert.equal(r.headers['x-accel-redirect'], undefined);
      assert.equal(r.headers.server, 'legate');
      assert.equal(r.headers['x-app'], 'a');
    } finally {
      backend.handler = (await import('../helpers/http.ts')).echo;
    }
  });

  it('streams a chunked request body as it comes, and a fixed-length one', async () => {
    const chunked = await rawRequest(
      port,
      'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    assert.equal(statusOf(chunked), 200, chunked);
    assert.equal(last().bodyBytes, 11);
    assert.equal(last().complete, true);
    const fixed = await rawRequest(
      port,
      'PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd',
    );
    assert.equal(statusOf(fixed), 200, fixed);
    assert.equal(last().bodyBytes, 4);
    assert.equal(backend.header(last(), 'content-length'), '4');
  });

  it('answers HEAD without a body and keeps the connection usable', async () => {
    const c = await RawHttp.connect(port);
    try {
      c.socket.write('HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n');
      const head = await c.until((t) => t.includes('\r\n\r\n'));
      assert.equal(statusOf(head), 200);
      assert.match(head, /content-length: \d+/i);
      await new Promise((r) => setTimeout(r, 100));
      const afterHead = c.text.length;
      assert.equal(c.text.indexOf('\r\n\r\n') + 4, afterHead, `HEAD got a body: ${c.text}`);
      c.socket.write('GET /g HTTP/1.1\r\nHost: x\r\n\r\n');
      const both = await c.until((t) => completeResponse(t.slice(afterHead)));
      assert.equal(statusOf(both.slice(afterHead)), 200);
      assert.equal(last().method, 'GET');
    } finally {
      c.close();
    }
  });

  it('serves an HTTP/1.0 client: the response ends at close, and the backend gets the request', async () => {
    const text = await rawRequest(port, 'GET /old HTTP/1.0\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(text, /transfer-encoding: chunked/i);
    const seen = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as SeenRequest;
    assert.equal(seen.url, '/old');
    assert.equal(last().url, '/old');
  });

  it('says 100 Continue to Expect: 100-continue, and the backend gets no Expect', async () => {
    const c = await RawHttp.connect(port);
    try {
      c.socket.write(
        'POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
      );
      await c.until((t) => t.includes('100 Continue'));
      assert.match(c.text, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
      c.socket.write('hello');
      const text = await c.until(() => false);
      assert.equal(statusOf(text.slice(text.indexOf('\r\n\r\n') + 4)), 200, text);
      assert.equal(last().bodyBytes, 5);
      assert.equal(backend.header(last(), 'expect'), undefined);
    } finally {
      c.close();
    }
  });

  it('serves curl: GET, POST with a body, and HEAD', async () => {
    const url = `http://127.0.0.1:${port}/curl?q=1`;
    const get = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', url]);
    assert.equal(get.stdout, '200');
    const post = await run('curl', ['-sS', '--data-binary', 'x'.repeat(5000), url]);
    assert.equal((JSON.parse(post.stdout) as SeenRequest).bodyBytes, 5000);
    const head = await run('curl', ['-sS', '-I', url]);
    assert.match(head.stdout, /^HTTP\/1\.1 200 OK/);
  });
});

describe('http proxy (node engine): upgrade tunnels, balancing, numbers', () => {
  let a: Backend;
  let b: Backend;
  let proxy: HttpProxy;
  let port: number;
  let upgrades = 0;

  before(async () => {
    a = await Backend.start();
    b = await Backend.start();
    for (const [name, be] of [['a', a] as const, ['b', b] as const]) {
      be.server.on('upgrade', (req, socket, head) => {
        upgrades++;
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nX-Backend: ${name}\r\n\r\n`,
        );
        if (head.length > 0) socket.write(head);
        socket.pipe(socket);
      });
    }
    ({ proxy, port } = await startProxy({
      servers: [serverSpec('a:80', a.port, { weight: 2 }), serverSpec('b:80', b.port)],
    }));
  });
  after(async () => {
    await proxy.close();
    await a.stop();
    await b.stop();
  });

  it('tunnels a WebSocket upgrade: 101 passed on, then bytes both ways', async () => {
    const c = await RawHttp.connect(port);
    try {
      c.socket.write(
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      const head = await c.until((t) => t.includes('\r\n\r\n'));
      assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.match(head, /\r\nupgrade: websocket\r\n/i);
      assert.match(head, /\r\nconnection: upgrade\r\n/i);
      const at = c.text.length;
      c.socket.write(Buffer.from('ping-bytes\x00\xff', 'latin1'));
      const echoed = await c.until((t) => t.length >= at + 12);
      assert.equal(echoed.slice(at), 'ping-bytes\x00\xff');
    } finally {
      c.close();
    }
  });

  it('spreads requests by weight (nginx smooth weighted round robin: 2:1)', async () => {
    const before = [a.seen.length, b.seen.length];
    for (let i = 0; i < 30; i++) {
      const r = await request(`http://127.0.0.1:${port}/rr`);
      await r.body.text();
    }
    assert.deepEqual([a.seen.length - before[0], b.seen.length - before[1]], [20, 10]);
  });

  it('counts add up: listener = upstream = sum of servers = what clients sent, by status class', async () => {
    const snap0 = structuredClone(proxy.snapshot());
    let sent = 0;
    let bytes = 0;
    for (let i = 0; i < 40; i++) {
      const body = i % 4 === 0 ? Buffer.alloc(100 + i) : null;
      const r = await request(`http://127.0.0.1:${port}/n${i}`, {
        method: body ? 'POST' : 'GET',
        body,
      });
      await r.body.arrayBuffer();
      sent++;
      bytes += body?.length ?? 0;
    }
    // Legate's own answers count too: a 404-free config, so make a 413.
    const big = await request(`http://127.0.0.1:${port}/big`, {
      method: 'POST',
      body: Buffer.alloc(1024 * 1024 + 1),
    }).catch((e: Error) => e);
    if (!(big instanceof Error)) await big.body.arrayBuffer();
    sent++;
    const snap = proxy.snapshot();
    const listener = snap.listeners[0].counters;
    const up = snap.upstreams[0];
    assert.equal(listener.requests - snap0.listeners[0].counters.requests, sent);
    assert.equal(listener.rejected - snap0.listeners[0].counters.rejected, 1);
    assert.equal(listener.status_4xx - snap0.listeners[0].counters.status_4xx, 1);
    assert.equal(up.counters.requests - snap0.upstreams[0].counters.requests, sent - 1);
    assert.equal(up.counters.status_2xx - snap0.upstreams[0].counters.status_2xx, sent - 1);
    assert.equal(up.counters.request_bytes - snap0.upstreams[0].counters.request_bytes, bytes);
    const servers = up.servers.reduce((n, s) => n + s.counters.requests, 0);
    const servers0 = snap0.upstreams[0].servers.reduce((n, s) => n + s.counters.requests, 0);
    assert.equal(servers - servers0, sent - 1);
    assert.equal(a.seen.length + b.seen.length + upgrades, up.counters.requests);
    assert.ok(up.latency.length > 0);
  });
});

describe('http proxy (node engine): bodies stream with bounded memory', () => {
  const SIZE = Number(process.env.LEGATE_HTTP_BIG_BYTES ?? 1024 * 1024 * 1024);
  let backend: Backend;
  let proxy: HttpProxy;
  let port: number;

  before(async () => {
    backend = await Backend.start((req, res) => {
      if (req.method === 'POST') {
        const hash = createHash('sha1');
        req.on('data', (c: Buffer) => hash.update(c));
        req.on('end', () => res.end(hash.digest('hex')));
        return;
      }
      // A generated download: SIZE bytes, written with backpressure.
      res.writeHead(200, { 'content-length': SIZE });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let left = SIZE;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    ({ proxy, port } = await startProxy({
      servers: [serverSpec('big:80', backend.port)],
      clientMaxBodySize: 0,
    }));
  });
  after(async () => {
    await proxy.close();
    await backend.stop();
  });

  it(`uploads ${SIZE} generated bytes (chunked) and downloads as many, RSS bounded`, {
    timeout: 300_000,
  }, async () => {
    const rss0 = process.memoryUsage.rss();
    let peak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 50);
    try {
      const chunk = Buffer.alloc(64 * 1024, 3);
      const expected = createHash('sha1');
      async function* generate() {
        for (let sent = 0; sent < SIZE; sent += chunk.length) {
          expected.update(chunk);
          yield chunk;
        }
      }
      const up = await request(`http://127.0.0.1:${port}/up`, {
        method: 'POST',
        body: Readable.from(generate()),
      });
      assert.equal(up.statusCode, 200);
      assert.equal(await up.body.text(), expected.digest('hex'));
      const down = await request(`http://127.0.0.1:${port}/down`);
      let got = 0;
      for await (const c of down.body) got += (c as Buffer).length;
      assert.equal(got, SIZE);
    } finally {
      clearInterval(sampler);
    }
    // The client, the proxy and the backend share this process: the bound covers all three. A
    // buffered body would grow RSS by about its gigabyte; streamed, growth is GC's lag (under
    // 128 MiB on a quiet machine, 130–150 MiB seen with the machine at load 20), so a quarter of
    // the body is the line that tells the two apart without failing on a busy machine.
    assert.ok(
      peak - rss0 < 256 * 1024 * 1024,
      `RSS grew ${((peak - rss0) / 1048576).toFixed(0)} MiB`,
    );
  });
});

describe("http proxy (node engine): a tunnel ends at either side's EOF, as nginx ends it", () => {
  it('a client that half-closes after the 101 has the tunnel closed, its bytes passed on first', async () => {
    const backend = await Backend.start();
    const got: Buffer[] = [];
    let serverSide: Socket | null = null;
    backend.server.on('upgrade', (req, socket) => {
      serverSide = socket as Socket;
      socket.on('error', () => {});
      socket.on('data', (d: Buffer) => got.push(d));
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`,
      );
    });
    const { proxy, port } = await startProxy({ servers: [serverSpec('web:80', backend.port)] });
    const c = await RawHttp.connect(port);
    try {
      c.socket.write(
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      );
      await c.until((t) => t.includes('\r\n\r\n'));
      const closed = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 3000);
        c.socket.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      c.socket.end('last words');
      assert.ok(await closed, 'the tunnel stayed half-open');
      assert.equal(Buffer.concat(got).toString(), 'last words');
    } finally {
      (serverSide as Socket | null)?.destroy();
      c.close();
      await proxy.close();
      await backend.stop();
    }
  });

  it("a client reset before the 101: the server's side is closed when it comes, not after proxy_read_timeout", async () => {
    const backend = await Backend.start();
    let serverSide: Socket | null = null;
    backend.server.on('upgrade', (req, socket) => {
      serverSide = socket as Socket;
      socket.on('error', () => {});
      // The 101 comes after the client has gone.
      setTimeout(
        () =>
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`,
          ),
        300,
      );
    });
    const { proxy, port } = await startProxy({
      servers: [serverSpec('web:80', backend.port)],
      readTimeoutMs: 60_000,
    });
    try {
      const c = await RawHttp.connect(port);
      c.socket.write(
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      );
      const deadline = Date.now() + 5000;
      while (serverSide === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      assert.ok(serverSide !== null, 'the upgrade reached the server');
      // A reset, not a FIN: legate's side of the client is gone before the 101 comes.
      c.socket.resetAndDestroy();
      const side = serverSide as Socket;
      // legate closes its side: the server reads EOF (it may keep its own side half-open).
      const closed = await new Promise<boolean>((resolve) => {
        if (side.readableEnded) return resolve(true);
        const timer = setTimeout(() => resolve(false), 3000);
        side.once('end', () => {
          clearTimeout(timer);
          resolve(true);
        });
        side.resume();
      });
      assert.ok(closed, "the server's side of a tunnel whose client left stayed open");
    } finally {
      (serverSide as Socket | null)?.destroy();
      await proxy.close();
      await backend.stop();
    }
  });
});
