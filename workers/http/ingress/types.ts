import type { Duplex, Readable } from 'node:stream';

/** A request's head as the ingress parsed it. */
export interface RequestHead {
  readonly method: string;
  /** The request target exactly as the client sent it. */
  readonly uri: string;
  /** '1.0' or '1.1'. */
  readonly httpVersion: string;
  /** Header names and values as received, flat: [name, value, name, value, …]. */
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/**
 * One HTTP request as an ingress engine parsed it, and the way back to its client. The engines
 * (node.ts on node:http's llhttp, uws.ts on uWebSockets.js) differ in everything else; the
 * proxy sees only this.
 */
export interface IngressExchange extends RequestHead {
  /** Request body with backpressure, or null when the request has none. */
  body(): Readable | null;
  /** True once the response head is on its way: an error then can only cut the connection. */
  readonly headSent: boolean;
  /** Starts the response; `length` null: the body's length is unknown (chunked or close). */
  writeHead(status: number, headers: readonly string[], length: number | null): void;
  /** false: stop until `onDrain` calls back. */
  write(chunk: Buffer): boolean;
  onDrain(callback: () => void): void;
  end(): void;
  /** A whole small response legate makes itself (errors); closes the connection when `close`. */
  reply(status: number, text: string, close: boolean): void;
  /** Cuts the client's connection (a response that failed half way). */
  destroy(): void;
  /** Called once if the client goes away before the response is complete. */
  onAborted(callback: () => void): void;
}

/** An `Upgrade` request and the client's raw connection (node engine). */
export interface IngressUpgrade extends RequestHead {
  readonly socket: Duplex;
  /** Bytes the client sent after the request head. */
  readonly head: Buffer;
}

export interface IngressHandlers {
  request(exchange: IngressExchange): void;
  /** Absent: the engine answers Upgrade requests as plain requests. */
  upgrade?(upgrade: IngressUpgrade): void;
  /** The engine answered a request itself (bad input the parser refused, a timeout). */
  rejected(status: number): void;
}

/** nginx's limits on the request head (large_client_header_buffers 4 8k). */
export interface IngressLimits {
  /** Request line: longer → 414. */
  readonly maxLineBytes: number;
  /** Every header line, and all of them together: longer → 400. */
  readonly maxHeaderLineBytes: number;
  readonly maxHeadBytes: number;
  /** client_header_timeout: no complete head in time → 408. */
  readonly headerTimeoutMs: number;
  /** nginx keepalive_timeout: an idle client connection is closed after it. */
  readonly keepAliveTimeoutMs: number;
}

export interface Ingress {
  readonly engine: 'uws' | 'node';
  /** Listens on host:port with SO_REUSEPORT (every worker shares the port); resolves with the port. */
  listen(host: string, port: number, handlers: IngressHandlers): Promise<number>;
  /** Closes the listening socket; open connections stay until `close`. */
  stopAccepting(): void;
  /** Closes every connection; those still answering get up to `graceMs` to finish first. */
  close(graceMs?: number): Promise<void>;
}
