// The HTTP engine on uWebSockets.js (workers/http/ingress/uws.ts), run in-process in front of
// real node:http backends with undici and raw-socket clients. Runs where uWS loads: on a glibc
// >= 2.38 host, or inside the Debian 13 root that scripts/uws-lane.sh makes when the host is older.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { HttpProxy } from '../../workers/http/proxy.ts';
import {
  Backend,
  RawHttp,
  rawRequest,
  type SeenRequest,
  serverSpec,
  startProxy,
  statusOf,
} from '../helpers/http.ts';
import { freePort } from '../helpers/processes.ts';
import { UWS_REQUIRED, uwsLoadError } from './uws-here.ts';

// The engine sets uWS's head limit (read when uWS loads) to nginx's 32 KiB unless it is set;
// this file loads uWS first, to see whether it can, so it sets the same limit before.
process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= '32768';
const loadError = uwsLoadError();
if (loadError !== null && UWS_REQUIRED)
  throw new Error(`uWebSockets.js must load here but does not: ${loadError}`);

const DOWNLOAD = 8 * 1024 * 1024;

describe('http proxy on the uws engine', {
  skip:
    loadError === null
      ? false
      : `uWebSockets.js does not load here (${loadError}); scripts/uws-lane.sh runs this in Debian 13`,
}, () => {
  let backend: Backend;
  let proxy: HttpProxy;
  let port: number;

  before(async () => {
    backend = await Backend.start((req, res, seen) => {
      if (req.url === '/download' || req.url === '/download-chunked') {
        const chunk = Buffer.alloc(64 * 1024, 5);
        if (req.url === '/download') res.writeHead(200, { 'content-length': DOWNLOAD });
        let left = DOWNLOAD;
        const pump = () => {
          while (left > 0) {
            left -= chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      req.on('end', () => {
        const body = JSON.stringify(seen);
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      req.resume();
    });
    ({ proxy, port } = await startProxy({
      engine: 'uws',
      servers: [serverSpec('web:80', backend.port)],
      setHeaders: [
        { name: 'X-Real-IP', value: '$remote_addr' },
        { name: 'X-Forwarded-For', value: '$proxy_add_x_forwarded_for' },
      ],
    }));
  });
  after(async () => {
    await proxy.close();
    await backend.stop();
  });

  const last = (): SeenRequest => backend.seen[backend.seen.length - 1];

  it('runs on uws, as the config asked', () => {
    assert.equal(proxy.engine, 'uws');
    assert.equal(proxy.snapshot().engine, 'uws');
  });

  it('passes the URI and query, Host = the upstream name, no hop-by-hop headers', async () => {
    const r = await request(`http://127.0.0.1:${port}/a/b?x=%2F&y`, {
      headers: { 'x-kept': 'yes', te: 'trailers', x_under: '1' },
    });
    assert.equal(r.statusCode, 200);
    const seen = (await r.body.json()) as SeenRequest;
    assert.equal(seen.url, '/a/b?x=%2F&y');
    assert.equal(backend.header(last(), 'host'), 'backend');
    assert.equal(backend.header(last(), 'x-kept'), 'yes');
    assert.equal(backend.header(last(), 'te'), undefined);
    assert.equal(backend.header(last(), 'x_under'), undefined);
    assert.equal(r.headers.server, 'legate');
  });

  it('$remote_addr is the client address as nginx prints it (dotted IPv4, not IPv4-mapped IPv6)', async () => {
    const r = await request(`http://127.0.0.1:${port}/addr`, {
      headers: { 'x-forwarded-for': '10.0.0.1' },
    });
    await r.body.text();
    assert.equal(backend.header(last(), 'x-real-ip'), '127.0.0.1');
    assert.equal(backend.header(last(), 'x-forwarded-for'), '10.0.0.1, 127.0.0.1');
  });

  it('streams request bodies: fixed-length and chunked', async () => {
    const fixed = await request(`http://127.0.0.1:${port}/up`, {
      method: 'POST',
      body: Buffer.alloc(300_000, 1),
    });
    assert.equal(((await fixed.body.json()) as SeenRequest).bodyBytes, 300_000);
    const chunked = await rawRequest(
      port,
      'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    assert.equal(statusOf(chunked), 200, chunked);
    assert.equal(last().bodyBytes, 5);
  });

  for (const path of ['/download', '/download-chunked']) {
    it(`streams a ${DOWNLOAD}-byte response (${path === '/download' ? 'Content-Length' : 'chunked'}) intact`, async () => {
      const r = await request(`http://127.0.0.1:${port}${path}`);
      assert.equal(r.statusCode, 200);
      const hash = createHash('sha1');
      let got = 0;
      for await (const c of r.body) {
        got += (c as Buffer).length;
        hash.update(c as Buffer);
      }
      assert.equal(got, DOWNLOAD);
      assert.equal(
        hash.digest('hex'),
        createHash('sha1').update(Buffer.alloc(DOWNLOAD, 5)).digest('hex'),
      );
    });
  }

  it('answers HEAD without a body, the connection stays usable', async () => {
    const c = await RawHttp.connect(port);
    try {
      c.socket.write('HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n');
      const head = await c.until((t) => t.includes('\r\n\r\n'));
      assert.equal(statusOf(head), 200, head);
      await new Promise((r) => setTimeout(r, 100));
      const at = c.text.length;
      assert.equal(c.text.indexOf('\r\n\r\n') + 4, at, `HEAD got a body: ${c.text}`);
      c.socket.write('GET /g HTTP/1.1\r\nHost: x\r\n\r\n');
      const next = await c.until((t) => t.slice(at).includes('"url":"/g"'));
      assert.equal(statusOf(next.slice(at)), 200);
    } finally {
      c.close();
    }
  });

  it('refuses Content-Length with Transfer-Encoding (400); the backend sees nothing', async () => {
    const before = backend.seen.length;
    const text = await rawRequest(
      port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    assert.equal(statusOf(text), 400, text);
    assert.equal(backend.seen.length, before);
  });

  it('a body over client_max_body_size → 413; a request line over 8k → 414', async () => {
    const big = await rawRequest(
      port,
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n`,
    );
    assert.equal(statusOf(big), 413, big);
    const long = await rawRequest(port, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(statusOf(long), 414, long);
  });

  it('an upstream that refuses → 502, counted', async () => {
    const dead = await startProxy({
      engine: 'uws',
      servers: [serverSpec('dead:80', await freePort())],
    });
    try {
      const r = await request(`http://127.0.0.1:${dead.port}/`);
      assert.equal(r.statusCode, 502);
      await r.body.text();
      assert.equal(dead.proxy.snapshot().upstreams[0].counters.status_5xx, 1);
    } finally {
      await dead.proxy.close();
    }
  });
});

describe('what uWebSockets.js cannot do ($remote_port, keepalive_timeout 0, Upgrade tunnels) runs on node under auto', {
  skip:
    loadError === null
      ? false
      : `uWebSockets.js does not load here (${loadError}); scripts/uws-lane.sh runs this in Debian 13`,
}, () => {
  it('engine auto: a config that uses $remote_port runs on node, and the backend gets the client’s port', async () => {
    const backend = await Backend.start();
    const { proxy, port } = await startProxy({
      engine: 'auto',
      servers: [serverSpec('web:80', backend.port)],
      setHeaders: [{ name: 'X-Port', value: '$remote_port' }],
    });
    try {
      assert.equal(proxy.engine, 'node');
      const client = await RawHttp.connect(port);
      const clientPort = client.socket.localPort;
      client.socket.write('GET /port HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const text = await client.until(() => false);
      assert.equal(statusOf(text), 200, text);
      const seen = backend.seen.at(-1) as SeenRequest;
      assert.equal(backend.header(seen, 'x-port'), String(clientPort));
    } finally {
      await proxy.close();
      await backend.stop();
    }
  });

  it('engine uws with $remote_port is refused, saying why', async () => {
    const options = {
      engine: 'uws' as const,
      servers: [serverSpec('web:80', await freePort())],
      setHeaders: [{ name: 'X-Port', value: '$remote_port' }],
    };
    let started: Awaited<ReturnType<typeof startProxy>>;
    try {
      started = await startProxy(options);
    } catch (err) {
      assert.match(
        (err as Error).message,
        /http engine 'uws': \$remote_port: uWebSockets\.js 20\.57 does not report a client's port/,
      );
      return;
    }
    await started.proxy.close();
    assert.fail('engine uws took a config that uses $remote_port');
  });

  it("engine auto: nginx's WebSocket recipe runs on node, and the upgrade is tunnelled", async () => {
    const backend = await Backend.start();
    backend.server.on('upgrade', (req, socket) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`,
      );
      socket.pipe(socket);
    });
    const { proxy, port } = await startProxy({
      engine: 'auto',
      servers: [serverSpec('web:80', backend.port)],
      setHeaders: [
        { name: 'Upgrade', value: '$http_upgrade' },
        { name: 'Connection', value: 'upgrade' },
      ],
    });
    const c = await RawHttp.connect(port);
    try {
      assert.equal(proxy.engine, 'node');
      c.socket.write(
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      const head = await c.until((t) => t.includes('\r\n\r\n'));
      assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      const at = c.text.length;
      c.socket.write('through the tunnel');
      const echoed = await c.until((t) => t.length >= at + 18);
      assert.equal(echoed.slice(at), 'through the tunnel');
    } finally {
      c.close();
      await proxy.close();
      await backend.stop();
    }
  });

  it('engine auto: keepalive_timeout 0 runs on node: Connection: close, and the connection closes', async () => {
    const backend = await Backend.start();
    const { proxy, port } = await startProxy({
      engine: 'auto',
      servers: [serverSpec('web:80', backend.port)],
      keepaliveTimeoutMs: 0,
    });
    try {
      assert.equal(proxy.engine, 'node');
      const client = await RawHttp.connect(port);
      client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      // Only the server closing ends this wait (the request asked for keep-alive).
      const text = await client.until(() => false, 5000);
      assert.equal(statusOf(text), 200, text);
      assert.match(text, /\r\nConnection: close\r\n/i);
      client.close();
    } finally {
      await proxy.close();
      await backend.stop();
    }
  });
});
