import { pipeline, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { now, tick } from '../clock.ts';
import type { PickState } from './balance/peers.ts';
import { BodyError, BodyGuard } from './body-guard.ts';
import { responseHeaders } from './headers.ts';
import type { IngressExchange } from './ingress/types.ts';
import type { Route } from './route.ts';
import type { ListenerStats } from './stats.ts';
import type { UpstreamServer } from './upstream.ts';
import { RequestVariables } from './variables.ts';

/** nginx: POST, LOCK and PATCH are not retried once sent (proxy_next_upstream non_idempotent). */
const NON_IDEMPOTENT: ReadonlySet<string> = new Set(['POST', 'LOCK', 'PATCH']);

/** The client went away before its response was complete (nginx logs 499). */
class ClientClosed extends Error {
  readonly code = 'LEGATE_CLIENT_CLOSED';
}

const TIMEOUTS: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Errors before the request was written: nothing reached the server. */
const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
]);

function errorCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? '';
}

/**
 * One client request on its way through an upstream: picks a server, sends the request over
 * that server's keep-alive pool, streams the response back with backpressure, and on a
 * connection error or timeout before any response byte tries the next server when nginx would.
 * It is undici's dispatch handler (the raw-header API: header names keep their case and order).
 */
export class Forward extends RequestVariables implements Dispatcher.DispatchHandler {
  readonly #route: Route;
  readonly #exchange: IngressExchange;
  readonly #listener: ListenerStats;
  readonly #startedAt: number;
  readonly #headers: string[];
  #body: Readable | null = null;
  #guard: BodyGuard | null = null;
  #server: UpstreamServer | null = null;
  #serverIndex = -1;
  #state: PickState | null = null;
  /** Tries so far (nginx's proxy_next_upstream_tries counts them). */
  #tries = 0;
  /** The current try answered with a status proxy_next_upstream lists, and another server may take it. */
  #nextOnStatus = 0;
  #tryStartedAt = 0;
  #status = 0;
  #responseBytes = 0;
  #abort: ((err?: Error) => void) | null = null;
  /** The picker heard how the current try went. */
  #tryReported = false;
  #clientGone = false;
  #done = false;

  constructor(
    route: Route,
    exchange: IngressExchange,
    listener: ListenerStats,
    serverPort: number,
    startedAt: number,
  ) {
    super(exchange, route.upstream.config.name, serverPort, route.realIp);
    this.#route = route;
    this.#exchange = exchange;
    this.#listener = listener;
    this.#startedAt = startedAt;
    this.#headers = route.headers.build(this);
  }

  start(): void {
    const body = this.#exchange.body();
    if (body !== null) {
      const guard = new BodyGuard(this.#route.maxBodyBytes, this.#route.bodyTimeoutMs);
      this.#guard = guard;
      this.#body = guard;
      // Errors reach undici through the guard: it aborts the upstream request with them.
      pipeline(body, guard, noop);
    }
    this.#exchange.onAborted(this.#clientAborted);
    this.#try();
  }

  #try(): void {
    const upstream = this.#route.upstream;
    this.#state ??= upstream.begin(this);
    const index = upstream.pick(this.#state);
    if (index === -1) {
      upstream.stats.counters.no_live_upstreams++;
      this.#fail(502, `no live upstreams in ${upstream.config.name}`);
      return;
    }
    const server = upstream.servers[index];
    this.#server = server;
    this.#serverIndex = index;
    server.stats.counters.active++;
    this.#tryReported = false;
    this.#tries++;
    this.#tryStartedAt = now;
    const route = this.#route;
    server.pools[route.connectSlot].dispatch(
      {
        path: this.uri,
        method: this.method as Dispatcher.HttpMethod,
        headers: this.#headers,
        body: this.#body,
        // This location's proxy_read_timeout, not whichever location made the pool.
        headersTimeout: route.readTimeoutMs,
        bodyTimeout: route.readTimeoutMs,
      },
      this,
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new ClientClosed('the client closed its connection'));
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    // 1xx before the real response: the ingress says 100 Continue itself.
    if (status < 200) return true;
    const server = this.#server as UpstreamServer;
    server.stats.headed((tick() - this.#tryStartedAt) * 1000);
    // proxy_next_upstream http_500 … http_429: such an answer is a failure of that server, and
    // goes to the next one when the request may be sent again.
    if (this.#route.nextOnStatus.has(status)) {
      // nginx counts http_403 and http_404 as "next", not as a failure.
      this.#route.upstream.release(this.#serverIndex, status !== 403 && status !== 404);
      this.#tryReported = true;
      if (this.#mayRetry('http', '')) {
        this.#nextOnStatus = status;
        this.#abort?.(new Error(`upstream ${server.spec.name} answered ${status}`));
        return false;
      }
    }
    this.#status = status;
    this.#resume = resume;
    const { headers, length } = responseHeaders(raw);
    const sticky = this.#route.upstream.sticky;
    if (sticky !== null) headers.push('Set-Cookie', sticky.setCookie(this.#serverIndex));
    this.#exchange.writeHead(status, headers, length);
    return true;
  }

  #resume: (() => void) | null = null;

  onData(chunk: Buffer): boolean {
    this.#responseBytes += chunk.length;
    if (this.#exchange.write(chunk)) return true;
    // Made on the first backpressure only: most responses never wait for the client.
    const resume = this.#resume;
    this.#exchange.onDrain(() => resume?.());
    return false;
  }

  onComplete(): void {
    this.#exchange.end();
    this.#finish(this.#status);
  }

  onError(err: Error): void {
    if (this.#done) return;
    const server = this.#server as UpstreamServer;
    if (this.#nextOnStatus !== 0) {
      server.stats.counters.active--;
      server.stats.finished(this.#nextOnStatus, 0, 0);
      this.#nextOnStatus = 0;
      this.#route.upstream.stats.counters.retries++;
      this.#try();
      return;
    }
    const clientSide = err instanceof BodyError || err instanceof ClientClosed || this.#clientGone;
    const timeout = TIMEOUTS.has(errorCode(err));
    if (!clientSide) {
      if (timeout) server.stats.counters.timeouts++;
      else server.stats.counters.failures++;
      this.#route.upstream.release(this.#serverIndex, true);
      this.#tryReported = true;
    }
    if (
      !clientSide &&
      !this.#exchange.headSent &&
      this.#mayRetry(timeout ? 'timeout' : 'error', errorCode(err))
    ) {
      server.stats.counters.active--;
      server.stats.finished(timeout ? 504 : 502, 0, 0);
      this.#route.upstream.stats.counters.retries++;
      this.#try();
      return;
    }
    if (err instanceof BodyError) this.#fail(err.status, err.message);
    else if (clientSide) this.#fail(499, 'the client closed its connection');
    else if (timeout) this.#fail(504, `upstream ${server.spec.name} timed out (${err.message})`);
    else this.#fail(502, `upstream ${server.spec.name}: ${err.message}`);
  }

  /**
   * nginx's proxy_next_upstream: error and timeout by default (`why` 'http': a listed status,
   * already checked), never for a sent POST.
   */
  #mayRetry(why: 'error' | 'timeout' | 'http', code: string): boolean {
    const route = this.#route;
    const next = route.nextUpstream;
    if (next.has('off') || (why !== 'http' && !next.has(why))) return false;
    // The body is streamed, not kept: only a request without one can be sent again.
    if (this.#body !== null) return false;
    // A request that never reached the server (refused, no connection in time) was not sent.
    if (NON_IDEMPOTENT.has(this.method) && !next.has('non_idempotent') && !CONNECT_ERRORS.has(code))
      return false;
    const tries = this.#tries;
    const limit = route.nextUpstreamTries;
    return (limit === 0 || tries < limit) && tries < route.upstream.maxTries();
  }

  readonly #clientAborted = (): void => {
    this.#clientGone = true;
    this.#abort?.(new ClientClosed('the client closed its connection'));
    this.#guard?.destroy();
  };

  #fail(status: number, text: string): void {
    if (status !== 499)
      this.#exchange.reply(status, text, status === 400 || status === 408 || status === 413);
    this.#finish(status);
  }

  #finish(status: number): void {
    if (this.#done) return;
    this.#done = true;
    const requestBytes = this.#guard?.bytes ?? 0;
    const server = this.#server;
    if (server !== null) {
      server.stats.counters.active--;
      server.stats.finished(status, requestBytes, this.#responseBytes);
      if (!this.#tryReported) this.#route.upstream.release(this.#serverIndex, false);
    }
    if (this.#state !== null) this.#route.upstream.end(this.#state);
    this.#route.upstream.stats.answered(
      status,
      requestBytes,
      this.#responseBytes,
      (tick() - this.#startedAt) * 1000,
    );
    this.#listener.answered(status, requestBytes, this.#responseBytes);
  }
}

function noop(): void {}
