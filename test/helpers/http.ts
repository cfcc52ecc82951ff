// HTTP role test parts: real node:http backends that record what they receive, raw-socket
// clients, and HttpConfig builders for the proxy unit (workers/http/proxy.ts) run in-process.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { HttpConfig, HttpServerSpec } from '../../engine/config/http-types.ts';
import { createLogger } from '../../engine/log.ts';
import { HttpRole } from '../../engine/roles/http.ts';
import { HttpProxy } from '../../workers/http/proxy.ts';
import { freePort } from './processes.ts';

/** One request as a backend saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly rawHeaders: readonly string[];
  bodyBytes: number;
  /** The whole body arrived (the request was not cut). */
  complete: boolean;
}

export type BackendHandler = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void;

/** Echoes what it saw as JSON after reading the whole body. */
export const echo: BackendHandler = (req, res, seen) => {
  req.on('end', () => {
    const body = JSON.stringify(seen);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
};

/** A node:http backend on a free loopback port that records every request it gets. */
export class Backend {
  readonly seen: SeenRequest[] = [];
  readonly server: Server;
  port = 0;
  handler: BackendHandler;

  constructor(handler: BackendHandler = echo) {
    this.handler = handler;
    this.server = createServer((req, res) => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders,
        bodyBytes: 0,
        complete: false,
      };
      this.seen.push(seen);
      req.on('data', (c: Buffer) => {
        seen.bodyBytes += c.length;
      });
      req.on('end', () => {
        seen.complete = true;
      });
      this.handler(req, res, seen);
    });
  }

  static async start(handler: BackendHandler = echo): Promise<Backend> {
    const b = new Backend(handler);
    b.port = await freePort();
    await new Promise<void>((resolve) => b.server.listen(b.port, '127.0.0.1', resolve));
    return b;
  }

  header(seen: SeenRequest, name: string): string | undefined {
    for (let i = 0; i < seen.rawHeaders.length; i += 2)
      if (seen.rawHeaders[i].toLowerCase() === name) return seen.rawHeaders[i + 1];
    return undefined;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

export function serverSpec(
  name: string,
  port: number,
  extra: Partial<HttpServerSpec> = {},
): HttpServerSpec {
  return {
    name,
    host: '127.0.0.1',
    port,
    weight: 1,
    maxFails: 1,
    failTimeoutMs: 10_000,
    maxConns: 0,
    down: false,
    backup: false,
    source: 'test',
    ...extra,
  };
}

export interface ProxyOptions {
  engine?: 'node' | 'uws' | 'auto';
  upstream?: string;
  servers: HttpServerSpec[];
  setHeaders?: { name: string; value: string }[];
  clientMaxBodySize?: number;
  clientHeaderTimeoutMs?: number;
  clientBodyTimeoutMs?: number;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  nextUpstream?: string[];
  keepaliveTimeoutMs?: number;
}

/** An nginx-equivalent config: one upstream, one server block with `location /`, nginx's defaults. */
export function httpConfig(port: number, o: ProxyOptions): HttpConfig {
  const upstream = o.upstream ?? 'backend';
  return {
    engine: o.engine ?? 'node',
    upstreams: [
      {
        name: upstream,
        balancer: 'round_robin',
        hashKey: null,
        randomTwo: false,
        sticky: null,
        servers: o.servers,
        keepalive: null,
      },
    ],
    servers: [
      {
        name: 'main',
        serverNames: [],
        defaultServer: false,
        listen: [{ kind: 'tcp', host: '127.0.0.1', port }],
        locations: [
          {
            prefix: '/',
            exact: false,
            proxy: {
              upstream,
              uri: null,
              setHeaders: o.setHeaders ?? [],
              httpVersion: '1.0',
              connectTimeoutMs: o.connectTimeoutMs ?? 60_000,
              sendTimeoutMs: 60_000,
              readTimeoutMs: o.readTimeoutMs ?? 60_000,
              nextUpstream: o.nextUpstream ?? ['error', 'timeout'],
              nextUpstreamTries: 0,
            },
            clientMaxBodySize: o.clientMaxBodySize ?? 1024 * 1024,
            clientBodyTimeoutMs: o.clientBodyTimeoutMs ?? 60_000,
          },
        ],
        clientMaxBodySize: o.clientMaxBodySize ?? 1024 * 1024,
        clientHeaderTimeoutMs: o.clientHeaderTimeoutMs ?? 60_000,
        clientBodyTimeoutMs: o.clientBodyTimeoutMs ?? 60_000,
        realIp: null,
        keepaliveTimeoutMs: o.keepaliveTimeoutMs ?? 75_000,
      },
    ],
    splitClients: [],
  };
}

/** The proxy unit started in this process (the worker host is not merged yet). */
export async function startProxy(o: ProxyOptions): Promise<{ proxy: HttpProxy; port: number }> {
  const port = await freePort();
  const config = httpConfig(port, o);
  const proxy = new HttpProxy(config, new HttpRole(config, 1).shared, createLogger('error'));
  await proxy.listen();
  return { proxy, port };
}

/** A raw client connection: writes bytes, reads everything the other side sends. */
export class RawHttp {
  readonly socket: Socket;
  data = Buffer.alloc(0);
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawHttp> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawHttp(s)));
      s.once('error', reject);
    });
  }

  get text(): string {
    return this.data.toString('latin1');
  }

  /** Waits until `done(text)` or the connection closes; throws after `timeoutMs`. */
  async until(done: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.text) && !this.closed) {
      if (Date.now() > deadline)
        throw new Error(`no expected answer in ${timeoutMs} ms; got: ${this.text.slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.text;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Sends `request` on a new connection and returns all it gets back until the server closes. */
export async function rawRequest(
  port: number,
  request: string | Buffer,
  timeoutMs = 5000,
): Promise<string> {
  const c = await RawHttp.connect(port);
  c.socket.write(request);
  try {
    return await c.until(() => false, timeoutMs);
  } finally {
    c.close();
  }
}

/** Whether `text` holds one complete response with a Content-Length body. */
export function completeResponse(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return m !== null && text.length >= end + 4 + Number(m[1]);
}

export function statusOf(text: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
}
