// legate and nginx 1.22 on the same nginx.conf, for the timeouts and keep-alive: each location
// keeps its own proxy_read_timeout though two share an upstream; `keepalive_timeout 0` closes
// the client connection after each response; an idle WebSocket tunnel is closed after
// proxy_read_timeout, one with traffic stays. Real clients: undici, raw sockets.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { RawHttp } from '../helpers/http.ts';
import { nginxHttpPrelude, startNginx } from '../helpers/nginx.ts';
import { freePort, type RunningProcess, startLegate, writeConfig } from '../helpers/processes.ts';

/** How long the backend takes on `/…/delay`: over the short timeout, under the long one. */
const DELAY_MS = 3000;

/**
 * The backend: `/…/delay` answers after DELAY_MS, anything else at once; an Upgrade gets a 101,
 * then `/…/echo` echoes every byte and `/…/silent` reads and says nothing.
 */
async function startBackend(): Promise<{ server: Server; port: number; tunnels: Set<Socket> }> {
  const tunnels = new Set<Socket>();
  const server = createServer((req, res) => {
    const answer = () => res.end(`ok ${req.url}`);
    if (req.url?.endsWith('/delay')) setTimeout(answer, DELAY_MS);
    else answer();
  });
  server.on('upgrade', (req, socket: Socket) => {
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    socket.on('error', () => socket.destroy());
    // The proxy closing its side ends the tunnel here too (http sockets allow half-open).
    socket.on('end', () => socket.destroy());
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`,
    );
    if (req.url?.endsWith('/echo')) socket.on('data', (d: Buffer) => socket.write(d));
    // `/…/stall` takes no bytes at all: what the proxy sends piles up until its send timeout.
    else if (req.url?.endsWith('/stall')) socket.pause();
    else socket.resume();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port, tunnels };
}

function nginxConf(
  ports: { main: number; noKeepalive: number; keepalive: number },
  backend: number,
): string {
  return `worker_processes 1;
events { worker_connections 64; }
http {
${nginxHttpPrelude('.')}
upstream app { server 127.0.0.1:${backend}; }
server {
  listen 127.0.0.1:${ports.main};
  location /short/ { proxy_pass http://app; proxy_read_timeout 1s; }
  location /long/ { proxy_pass http://app; proxy_read_timeout 10s; }
  location /ws/ {
    proxy_pass http://app;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_read_timeout 1s;
  }
  location /ws-send/ {
    proxy_pass http://app;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_read_timeout 60s;
    proxy_send_timeout 1s;
  }
}
server {
  listen 127.0.0.1:${ports.noKeepalive};
  keepalive_timeout 0;
  location / { proxy_pass http://app; }
}
server {
  listen 127.0.0.1:${ports.keepalive};
  location / { proxy_pass http://app; }
}
}
`;
}

/** Waits up to `ms` for the server to close `c`; the ms it took, or null if it stayed open. */
async function closeTime(c: RawHttp, ms: number): Promise<number | null> {
  const since = Date.now();
  try {
    await c.until(() => false, ms);
  } catch {
    return null;
  }
  return Date.now() - since;
}

/** Waits up to `ms` for `test` to hold on what arrived (or for a close); false when it does not. */
async function arrived(c: RawHttp, test: (text: string) => boolean, ms: number): Promise<boolean> {
  try {
    await c.until(test, ms);
  } catch {
    return false;
  }
  return test(c.text);
}

const UPGRADE = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

/** Opens a tunnel on `path`: the client, the 101's status line, and where the tunnel's bytes start. */
async function openTunnel(
  port: number,
  path: string,
): Promise<{ client: RawHttp; status: string; start: number }> {
  const client = await RawHttp.connect(port);
  client.socket.write(UPGRADE(path));
  await arrived(client, (t) => t.includes('\r\n\r\n'), 5000);
  const text = client.text;
  return { client, status: text.split('\r\n')[0], start: text.indexOf('\r\n\r\n') + 4 };
}

/** `Connection:` of a response head, lower case ('' when absent). */
function connectionHeader(text: string): string {
  return (/\r\nconnection: ([^\r]*)\r\n/i.exec(text)?.[1] ?? '').toLowerCase();
}

interface Observation {
  readonly shortDelay: number;
  readonly longDelay: number;
  readonly shortQuick: number;
  readonly noKeepalive: { status: string; connection: string; closed: boolean };
  readonly keepalive: { connection: string; secondStatus: string; closed: boolean };
  readonly idleTunnel: { status: string; closed: boolean; afterMs: number };
  readonly busyTunnel: { echoes: number; openWhileBusy: boolean; closedWhenIdle: boolean };
  readonly oneWayTunnel: { openWhileSending: boolean };
  readonly stalledTunnel: { status: string; closed: boolean; afterMs: number };
}

async function observe(ports: {
  main: number;
  noKeepalive: number;
  keepalive: number;
}): Promise<Observation> {
  const status = async (path: string) =>
    await request(`http://127.0.0.1:${ports.main}${path}`, { headersTimeout: 20000 }).then(
      async (r) => {
        await r.body.dump();
        return r.statusCode;
      },
    );
  const [shortDelay, longDelay, shortQuick] = await Promise.all([
    status('/short/delay'),
    status('/long/delay'),
    status('/short/quick'),
  ]);

  const off = await RawHttp.connect(ports.noKeepalive);
  off.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  const offClosed = (await closeTime(off, 5000)) !== null;
  off.close();

  const on = await RawHttp.connect(ports.keepalive);
  on.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  await arrived(on, (t) => t.includes('ok /a'), 5000);
  const first = on.text;
  on.socket.write('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  await arrived(on, (t) => t.includes('ok /b'), 5000);
  const keepalive = {
    connection: connectionHeader(first),
    secondStatus: on.text.slice(first.length).split('\r\n')[0],
    closed: on.closed,
  };
  on.close();

  const idle = await openTunnel(ports.main, '/ws/echo');
  const idleAfter = await closeTime(idle.client, 8000);
  const idleTunnel = { status: idle.status, closed: idleAfter !== null, afterMs: idleAfter ?? -1 };
  idle.client.close();

  // A message every 300 ms, each echoed, for 2.4 s (over twice proxy_read_timeout); then silence.
  const busy = await openTunnel(ports.main, '/ws/echo');
  for (let i = 0; i < 8; i++) {
    busy.client.socket.write(`m${i};`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const openWhileBusy = !busy.client.closed;
  const echoes = busy.client.text
    .slice(busy.start)
    .split(';')
    .filter((m) => m !== '').length;
  const busyTunnel = {
    echoes,
    openWhileBusy,
    closedWhenIdle: (await closeTime(busy.client, 8000)) !== null,
  };
  busy.client.close();

  // Bytes towards a server that never answers: nginx re-arms its read timer on them too.
  const oneWay = await openTunnel(ports.main, '/ws/silent');
  for (let i = 0; i < 8; i++) {
    oneWay.client.socket.write(`m${i};`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const oneWayTunnel = { openWhileSending: !oneWay.client.closed };
  oneWay.client.close();

  // A server that takes nothing: 64 MiB sent towards it fill every buffer on the way, and the
  // proxy gives up after proxy_send_timeout (1 s), long before proxy_read_timeout (60 s).
  const stalled = await openTunnel(ports.main, '/ws-send/stall');
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  for (let i = 0; i < 64; i++) stalled.client.socket.write(chunk);
  const stalledAfter = await closeTime(stalled.client, 20000);
  const stalledTunnel = {
    status: stalled.status,
    closed: stalledAfter !== null,
    afterMs: stalledAfter ?? -1,
  };
  stalled.client.close();

  return {
    shortDelay,
    longDelay,
    shortQuick,
    noKeepalive: {
      status: off.text.split('\r\n')[0],
      connection: connectionHeader(off.text),
      closed: offClosed,
    },
    keepalive,
    idleTunnel,
    busyTunnel,
    oneWayTunnel,
    stalledTunnel,
  };
}

describe('legate and nginx 1.22 on the same nginx.conf: timeouts and keep-alive', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let fromNginx: Observation;
  let fromLegate: Observation;
  let legate: RunningProcess | null = null;
  let conf: { file: string; cleanup(): void } | null = null;

  before(async () => {
    backend = await startBackend();
    const ports = {
      main: await freePort(),
      noKeepalive: await freePort(),
      keepalive: await freePort(),
    };
    const text = nginxConf(ports, backend.port);
    const nginx = await startNginx(text, ports.main);
    try {
      fromNginx = await observe(ports);
    } finally {
      await nginx.stop();
    }
    conf = writeConfig(text, 'nginx.conf');
    legate = await startLegate(['-c', conf.file, '-w', '1']);
    fromLegate = await observe(ports);
  });

  after(async () => {
    await legate?.stop();
    conf?.cleanup();
    backend?.server.closeAllConnections();
    for (const t of backend?.tunnels ?? []) t.destroy();
    await new Promise((r) => backend?.server.close(r));
  });

  it('two locations on one upstream: each request gets its own location’s proxy_read_timeout', () => {
    assert.deepEqual(
      { short: fromNginx.shortDelay, long: fromNginx.longDelay, quick: fromNginx.shortQuick },
      { short: 504, long: 200, quick: 200 },
      'nginx itself',
    );
    assert.deepEqual(
      { short: fromLegate.shortDelay, long: fromLegate.longDelay, quick: fromLegate.shortQuick },
      { short: 504, long: 200, quick: 200 },
    );
  });

  it('keepalive_timeout 0: Connection: close, and the connection is closed after the response', () => {
    assert.deepEqual(fromNginx.noKeepalive, {
      status: 'HTTP/1.1 200 OK',
      connection: 'close',
      closed: true,
    });
    assert.deepEqual(fromLegate.noKeepalive, fromNginx.noKeepalive);
    // The default keeps the connection for the next request, in both.
    assert.deepEqual(fromNginx.keepalive, {
      connection: 'keep-alive',
      secondStatus: 'HTTP/1.1 200 OK',
      closed: false,
    });
    assert.deepEqual(fromLegate.keepalive, fromNginx.keepalive);
  });

  /** Both proxies answered 101 and then closed the tunnel, within [minMs, maxMs) of its start. */
  function closedInBoth(which: 'idleTunnel' | 'stalledTunnel', minMs: number, maxMs: number): void {
    for (const [who, o] of [
      ['nginx', fromNginx],
      ['legate', fromLegate],
    ] as const) {
      const t = o[which];
      assert.equal(t.status, 'HTTP/1.1 101 Switching Protocols', who);
      assert.equal(t.closed, true, `${who}: the ${which} stayed open`);
      assert.ok(t.afterMs >= minMs && t.afterMs < maxMs, `${who}: closed after ${t.afterMs} ms`);
    }
  }

  it('an idle WebSocket tunnel is closed after proxy_read_timeout (1 s)', () => {
    // 1 s, give or take the timers and a loaded machine; far from the 60 s default.
    closedInBoth('idleTunnel', 800, 5000);
  });

  it('a tunnel with traffic stays open past proxy_read_timeout, and closes once idle', () => {
    assert.deepEqual(fromNginx.busyTunnel, {
      echoes: 8,
      openWhileBusy: true,
      closedWhenIdle: true,
    });
    assert.deepEqual(fromLegate.busyTunnel, fromNginx.busyTunnel);
  });

  it('bytes sent towards a silent server keep the tunnel open as in nginx', () => {
    assert.deepEqual(fromLegate.oneWayTunnel, fromNginx.oneWayTunnel);
  });

  it('a tunnel whose server takes no bytes is closed after proxy_send_timeout', () => {
    // 1 s after the buffers filled, on a loaded machine; far from proxy_read_timeout's 60 s.
    closedInBoth('stalledTunnel', 0, 15000);
  });
});
