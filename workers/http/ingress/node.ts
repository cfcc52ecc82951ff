import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Duplex, Readable } from 'node:stream';

/** An upgraded socket's errors end that socket alone (one function for all: no closure per socket). */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

import type { Ingress, IngressExchange, IngressHandlers, IngressLimits } from './types.ts';

/** A parser error → the status nginx gives the same bad input. */
function clientErrorStatus(
  err: NodeJS.ErrnoException & { rawPacket?: Buffer },
  limits: IngressLimits,
): number {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // llhttp counts the whole head; nginx says 414 when the request line alone is too long.
    const packet = err.rawPacket;
    const eol = packet ? packet.indexOf('\r\n') : -1;
    return eol === -1 || eol > limits.maxLineBytes ? 414 : 400;
  }
  return 400;
}

function plainResponse(status: number, text: string): string {
  const body = `${status} ${STATUS_CODES[status] ?? ''}: ${text}\n`;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

const CLIENT_ERROR_TEXT: Readonly<Record<number, string>> = {
  400: 'bad request',
  408: 'the client sent no complete request head in time',
  414: 'request line too long',
};

/** The request node:http's llhttp parsed, with its response. */
class NodeExchange implements IngressExchange {
  readonly method: string;
  readonly uri: string;
  readonly httpVersion: string;
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #expectContinue: boolean;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    expectContinue: boolean,
    keepAlive: boolean,
  ) {
    this.#req = req;
    this.#res = res;
    // keepalive_timeout 0: nginx answers `Connection: close` and closes; node would keep it open.
    if (!keepAlive) res.shouldKeepAlive = false;
    this.#expectContinue = expectContinue;
    this.method = req.method ?? 'GET';
    this.uri = req.url ?? '/';
    this.httpVersion = req.httpVersion;
    this.rawHeaders = req.rawHeaders;
    this.remoteAddress = req.socket.remoteAddress ?? '';
    this.remotePort = req.socket.remotePort ?? 0;
  }

  body(): Readable | null {
    const h = this.#req.headers;
    if (h['transfer-encoding'] === undefined && (h['content-length'] ?? '0') === '0') return null;
    // nginx too says 100 Continue when it starts reading the body, not before.
    if (this.#expectContinue) this.#res.writeContinue();
    return this.#req;
  }

  get headSent(): boolean {
    return this.#res.headersSent;
  }

  writeHead(status: number, headers: readonly string[]): void {
    this.#res.writeHead(status, headers as string[]);
  }

  write(chunk: Buffer): boolean {
    return this.#res.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.#res.once('drain', callback);
  }

  end(): void {
    this.#res.end();
  }

  reply(status: number, text: string, close: boolean): void {
    const res = this.#res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `${status} ${STATUS_CODES[status] ?? ''}: ${text}\n`;
    const headers: string[] = [
      'Content-Type',
      'text/plain',
      'Content-Length',
      String(Buffer.byteLength(body)),
    ];
    if (close) headers.push('Connection', 'close');
    res.writeHead(status, headers);
    res.end(this.method === 'HEAD' ? undefined : body);
  }

  destroy(): void {
    this.#res.destroy();
  }

  onAborted(callback: () => void): void {
    const res = this.#res;
    res.once('close', () => {
      if (!res.writableFinished) callback();
    });
  }
}

/** The node:http engine: llhttp reads requests; every worker listens with SO_REUSEPORT. */
export class NodeIngress implements Ingress {
  readonly engine = 'node' as const;
  readonly #limits: IngressLimits;
  #server: Server | null = null;
  /** Resolves once the stopped server's last connection has closed. */
  #ended: Promise<void> | null = null;

  constructor(limits: IngressLimits) {
    this.#limits = limits;
  }

  listen(host: string, port: number, handlers: IngressHandlers): Promise<number> {
    const limits = this.#limits;
    const server = createServer({
      maxHeaderSize: limits.maxHeadBytes,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      headersTimeout: limits.headerTimeoutMs,
      // Body time is the proxy's (client_body_timeout, between reads), not a whole-request cap.
      requestTimeout: 0,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, limits.headerTimeoutMs / 4)),
      // Headers reach the upstream as sent; node's joining would change them.
      joinDuplicateHeaders: false,
    });
    this.#server = server;
    const keepAlive = limits.keepAliveTimeoutMs > 0;
    server.on('request', (req: IncomingMessage, res: ServerResponse) =>
      handlers.request(new NodeExchange(req, res, false, keepAlive)),
    );
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
      handlers.request(new NodeExchange(req, res, true, keepAlive)),
    );
    // nginx ignores expectations other than 100-continue; node would answer 417.
    server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
      handlers.request(new NodeExchange(req, res, false, keepAlive)),
    );
    const upgrade = handlers.upgrade;
    if (upgrade !== undefined) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        // node:http hands the socket over with no 'error' listener: a client's reset would
        // throw in this worker and take every client on it down.
        socket.on('error', destroyOnError);
        upgrade({
          method: req.method ?? 'GET',
          uri: req.url ?? '/',
          httpVersion: req.httpVersion,
          rawHeaders: req.rawHeaders,
          remoteAddress: req.socket.remoteAddress ?? '',
          remotePort: req.socket.remotePort ?? 0,
          socket,
          head,
        });
      });
    }
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // A request already answered in part (its head was sent) can only be cut off; one being
      // proxied is counted where it is proxied. node:http keeps it on the socket.
      const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
        socket.destroy();
        return;
      }
      const status = clientErrorStatus(err, limits);
      if (!inFlight) handlers.rejected(status);
      socket.end(plainResponse(status, CLIENT_ERROR_TEXT[status] ?? err.message));
    });
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(err);
      server.once('error', failed);
      server.listen({ host, port, reusePort: true }, () => {
        server.off('error', failed);
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  stopAccepting(): void {
    const server = this.#server;
    if (server === null || this.#ended !== null) return;
    // node:http closes idle connections now, and each busy one once its response is out.
    this.#ended = new Promise((resolve) => server.close(() => resolve()));
  }

  async close(graceMs = 0): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.stopAccepting();
    if (graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#ended,
        new Promise((r) => {
          timer = setTimeout(r, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#server = null;
    server.closeAllConnections();
  }
}
