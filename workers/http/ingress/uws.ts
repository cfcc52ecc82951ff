import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import { SocketAddress } from 'node:net';
import { Readable } from 'node:stream';
import type { Ingress, IngressExchange, IngressHandlers, IngressLimits } from './types.ts';

// uWebSockets.js ships as CommonJS with native binaries; its types come from its index.d.ts.
type Uws = typeof import('uWebSockets.js');
type UwsResponse = import('uWebSockets.js').HttpResponse;
type UwsRequest = import('uWebSockets.js').HttpRequest;
type UwsApp = ReturnType<Uws['App']>;

/**
 * Loads uWebSockets.js for the HTTP ingress. Its head limit is read from the environment when
 * it loads (default 4 KiB): nginx takes 32 KiB, so that is set first unless the user set it.
 */
export function loadUwsForIngress(limits: IngressLimits): Uws {
  process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= String(limits.maxHeadBytes);
  return createRequire(import.meta.url)('uWebSockets.js') as Uws;
}

/** Status lines made once, not a template string per response. */
const STATUS_LINES: string[] = [];

function statusLine(status: number): string {
  const line = STATUS_LINES[status];
  if (line !== undefined) return line;
  const made = `${status} ${STATUS_CODES[status] ?? ''}`;
  if (status >= 100 && status < 600) STATUS_LINES[status] = made;
  return made;
}

/**
 * The client address as nginx prints $remote_addr: dotted IPv4, also for an IPv4-mapped IPv6
 * peer (what a dual-stack uWS socket reports for IPv4 clients), and compressed IPv6.
 */
function remoteAddressText(res: UwsResponse): string {
  const b = new Uint8Array(res.getRemoteAddress());
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) {
    let mapped = b[10] === 0xff && b[11] === 0xff;
    for (let i = 0; i < 10 && mapped; i++) mapped = b[i] === 0;
    if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
    return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
  }
  return Buffer.from(res.getRemoteAddressAsText()).toString();
}

/** forEach's target: one module-level callback, not a closure per request. */
const NO_HEADERS: string[] = [];
let collecting: string[] = NO_HEADERS;
function collectHeader(name: string, value: string): void {
  collecting.push(name, value);
}

/**
 * A request uWS parsed. uWS allows touching `res` only until it is aborted or ended, and only
 * corked outside its own callbacks; the head is written with the first body bytes.
 */
class UwsExchange implements IngressExchange {
  readonly method: string;
  readonly uri: string;
  readonly httpVersion = '1.1';
  readonly rawHeaders: string[] = [];
  readonly remoteAddress: string;
  /** uWS 20.57 gives no client port; a config that uses $remote_port runs on node (uws-limits.ts). */
  readonly remotePort = 0;
  readonly #res: UwsResponse;
  #body: Readable | null = null;
  #status = 0;
  #headers: readonly string[] = [];
  #length: number | null = null;
  #headSent = false;
  #ended = false;
  #aborted = false;
  #onAborted: (() => void) | null = null;
  #onDrain: (() => void) | null = null;
  /** A chunk of a known-length body uWS took only in part, and the write offset it started at. */
  #pending: Buffer | null = null;
  #pendingAt = 0;

  constructor(res: UwsResponse, req: UwsRequest) {
    this.#res = res;
    this.method = req.getCaseSensitiveMethod();
    const query = req.getQuery();
    this.uri = query === undefined || query === '' ? req.getUrl() : `${req.getUrl()}?${query}`;
    collecting = this.rawHeaders;
    req.forEach(collectHeader);
    collecting = NO_HEADERS;
    this.remoteAddress = remoteAddressText(res);
    res.onAborted(() => {
      this.#aborted = true;
      this.#body?.destroy(new Error('the client closed its connection'));
      this.#onAborted?.();
    });
    // onData must be attached before the handler returns, or the body is lost.
    if (req.getHeader('transfer-encoding') !== '' || Number(req.getHeader('content-length')) > 0) {
      // uWS stops delivering data if resume() is called on a response that is not paused.
      let paused = false;
      const body = new Readable({
        highWaterMark: 64 * 1024,
        read: () => {
          if (!paused || this.#aborted) return;
          paused = false;
          res.resume();
        },
      });
      this.#body = body;
      res.onData((chunk, last) => {
        // The ArrayBuffer is uWS's and is reused once this returns: copy it.
        if (chunk.byteLength > 0 && !body.push(Buffer.from(chunk.slice(0))) && !last) {
          paused = true;
          res.pause();
        }
        if (last) body.push(null);
      });
    }
  }

  body(): Readable | null {
    return this.#body;
  }

  get headSent(): boolean {
    return this.#headSent;
  }

  writeHead(status: number, headers: readonly string[], length: number | null): void {
    this.#status = status;
    this.#headers = headers;
    this.#length = length;
    // HEAD, 204 and 304 carry no body: the head goes out now, with the length as given.
    if (this.method === 'HEAD' || status === 204 || status === 304) {
      if (this.#aborted) return;
      this.#res.cork(() => {
        this.#head();
        this.#res.endWithoutBody(length ?? undefined);
      });
      this.#ended = true;
    }
  }

  /** Status and headers, less Content-Length: uWS writes the framing itself. */
  #head(): void {
    const res = this.#res;
    res.writeStatus(statusLine(this.#status));
    const h = this.#headers;
    for (let i = 0; i < h.length; i += 2) {
      if (h[i].toLowerCase() === 'content-length') continue;
      res.writeHeader(h[i], h[i + 1]);
    }
    this.#headSent = true;
  }

  /**
   * The exchange and chunk cork() works on: uWS runs the corked function before cork returns,
   * so one shared function serves every write instead of a closure per write.
   */
  static #corked: UwsExchange | null = null;
  static #chunk: Buffer | null = null;
  static #ok = true;

  static #corkedWrite(): void {
    const self = UwsExchange.#corked as UwsExchange;
    const chunk = UwsExchange.#chunk as Buffer;
    if (!self.#headSent) self.#head();
    if (self.#length === null) {
      UwsExchange.#ok = self.#res.write(chunk);
      return;
    }
    const at = self.#res.getWriteOffset();
    const [taken, done] = self.#res.tryEnd(chunk, self.#length);
    if (done) self.#ended = true;
    else if (!taken) {
      self.#pending = chunk;
      self.#pendingAt = at;
      UwsExchange.#ok = false;
    }
  }

  static #corkedEnd(): void {
    const self = UwsExchange.#corked as UwsExchange;
    if (!self.#headSent) self.#head();
    if (self.#length === null) self.#res.end();
    else self.#res.endWithoutBody(self.#length);
  }

  write(chunk: Buffer): boolean {
    if (this.#aborted || this.#ended) return true;
    UwsExchange.#chunk = chunk;
    UwsExchange.#ok = true;
    this.#cork(UwsExchange.#corkedWrite);
    UwsExchange.#chunk = null;
    const ok = UwsExchange.#ok;
    if (!ok) this.#res.onWritable(this.#writableCallback());
    return ok;
  }

  #cork(corked: () => void): void {
    UwsExchange.#corked = this;
    try {
      this.#res.cork(corked);
    } finally {
      UwsExchange.#corked = null;
    }
  }

  /** Made on the first backpressure only: most responses go out in one write. */
  #writable: ((offset: number) => boolean) | null = null;

  #writableCallback(): (offset: number) => boolean {
    this.#writable ??= (offset) => this.#onWritable(offset);
    return this.#writable;
  }

  #onWritable(offset: number): boolean {
    const pending = this.#pending;
    if (pending === null || this.#length === null) {
      this.#drain();
      return true;
    }
    const rest = pending.subarray(offset - this.#pendingAt);
    const at = this.#res.getWriteOffset();
    const [taken, done] = this.#res.tryEnd(rest, this.#length);
    if (done) this.#ended = true;
    if (taken || done) {
      this.#pending = null;
      this.#drain();
      return true;
    }
    this.#pending = rest;
    this.#pendingAt = at;
    return false;
  }

  #drain(): void {
    const cb = this.#onDrain;
    this.#onDrain = null;
    cb?.();
  }

  onDrain(callback: () => void): void {
    this.#onDrain = callback;
    if (this.#length === null) this.#res.onWritable(this.#writableCallback());
  }

  end(): void {
    if (this.#aborted || this.#ended) return;
    this.#ended = true;
    this.#cork(UwsExchange.#corkedEnd);
  }

  reply(status: number, text: string, close: boolean): void {
    if (this.#aborted || this.#ended) return;
    if (this.#headSent) {
      this.destroy();
      return;
    }
    this.#ended = true;
    const body = `${statusLine(status)}: ${text}\n`;
    this.#res.cork(() => {
      this.#res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'text/plain');
      this.#headSent = true;
      if (this.method === 'HEAD') this.#res.endWithoutBody(Buffer.byteLength(body), close);
      else this.#res.end(body, close);
    });
  }

  destroy(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#res.close();
  }

  onAborted(callback: () => void): void {
    this.#onAborted = callback;
  }
}

/** The uWebSockets.js engine: its own parser; every worker listens with SO_REUSEPORT (its default). */
export class UwsIngress implements Ingress {
  readonly engine = 'uws' as const;
  readonly #uws: Uws;
  #app: UwsApp | null = null;
  #token: unknown = null;

  constructor(uws: Uws, _limits: IngressLimits) {
    this.#uws = uws;
  }

  listen(host: string, port: number, handlers: IngressHandlers): Promise<number> {
    const app = this.#uws.App();
    this.#app = app;
    app.any('/*', (res, req) => handlers.request(new UwsExchange(res, req)));
    return new Promise((resolve, reject) => {
      app.listen(host, port, (token) => {
        if (!token) {
          // An app left open keeps a uWS handle that aborts Node when its thread exits.
          app.close();
          this.#app = null;
          reject(
            new Error(`cannot listen on ${host}:${port} (in use, or not an address of this host)`),
          );
          return;
        }
        this.#token = token;
        resolve(this.#uws.us_socket_local_port(token));
      });
    });
  }

  stopAccepting(): void {
    if (this.#token === null) return;
    this.#uws.us_listen_socket_close(this.#token as Parameters<Uws['us_listen_socket_close']>[0]);
    this.#token = null;
  }

  /** uWS cannot tell when its connections are done: a drain's grace is spent by the proxy. */
  async close(_graceMs?: number): Promise<void> {
    this.stopAccepting();
    this.#app?.close();
    this.#app = null;
  }
}
