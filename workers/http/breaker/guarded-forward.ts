import { pipeline, type Readable } from 'node:stream';
import type { Client, Dispatcher } from 'undici';
import type { RetryPolicy } from '../../../engine/config/http-types.ts';
import {
  LOCAL_CONNECT_FAILURE,
  LOCAL_TIMEOUT,
  recordResult,
} from '../../../engine/health/outlier.ts';
import { C, H, HALF_OPEN, UNLIMITED, wallClock } from '../../../engine/shared/breaker-memory.ts';
import { REJECTED } from '../../../engine/shared/circuit.ts';
import { tick } from '../../clock.ts';
import { BodyError, BodyGuard } from '../body-guard.ts';
import { responseHeaders } from '../headers.ts';
import type { IngressExchange } from '../ingress/types.ts';
import type { Route } from '../route.ts';
import type { ListenerStats } from '../stats.ts';
import { RequestVariables } from '../variables.ts';
import {
  circuitOpenAnswer,
  type LocalAnswer,
  localAnswer,
  NO_HEALTHY,
  OVERFLOW,
  type ResetReason,
  resetBody,
  sendAnswer,
  TIMEOUT,
} from './answers.ts';
import { Deadline } from './deadlines.ts';
import type { GuardedUpstream } from './guarded-upstream.ts';
import type { ConnectionWaiter } from './host-connections.ts';

/** Methods retried without `retry_non_idempotent` (RFC 9110's idempotent ones). */
const IDEMPOTENT: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);

const CONNECT_REFUSED: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
]);

class TryTimeout extends Error {
  readonly code = 'LEGATE_TRY_TIMEOUT';
}
class ClientClosed extends Error {
  readonly code = 'LEGATE_CLIENT_CLOSED';
}

/** The route's timeout ends the request, or the client left: nothing more is tried. */
const STOPPED_TIMEOUT = 1;
const STOPPED_CLIENT = 2;

/**
 * One request through a guarded upstream, by Envoy's router rules: the classic circuit admits
 * it or answers 503 at once; Envoy's limits (max_requests, then a connection within
 * max_connections or a place among max_pending_requests) admit it or answer Envoy's overflow
 * 503; each try's outcome feeds outlier detection and the circuit; retry_policy decides retries
 * (within max_retries or the retry budget), with Envoy's backoff; the route timeout answers
 * `504 upstream request timeout`.
 */
export class GuardedForward
  extends RequestVariables
  implements Dispatcher.DispatchHandler, ConnectionWaiter
{
  readonly #route: Route;
  readonly #up: GuardedUpstream;
  readonly #ex: IngressExchange;
  readonly #listener: ListenerStats;
  readonly #startedAt: number;
  /** Built at the first try: a request answered at once (open, overflow) never needs them. */
  #headers: string[] | null = null;
  readonly #retry: RetryPolicy | null;
  #body: Readable | null = null;
  #guard: BodyGuard | null = null;
  #host = -1;
  #ticket = REJECTED;
  #client: Client | null = null;
  #abort: ((err?: Error) => void) | null = null;
  #tries = 0;
  #retryHeld = false;
  #holdsRq = false;
  #pending = false;
  #tryStartedAt = 0;
  #status = 0;
  #discard = false;
  #responseBytes = 0;
  /** Made at the first try that gets a host: a request answered at once never arms one. */
  #routeDeadline: Deadline<GuardedForward> | null = null;
  #tryDeadline: Deadline<GuardedForward> | null = null;
  /** The route timeout runs and the client's going away is watched (from the first real try). */
  #watching = false;
  #backoffTimer: NodeJS.Timeout | null = null;
  #stopped = 0;
  #resume: (() => void) | null = null;
  #done = false;

  constructor(
    route: Route,
    upstream: GuardedUpstream,
    exchange: IngressExchange,
    listener: ListenerStats,
    serverPort: number,
    startedAt: number,
  ) {
    super(exchange, upstream.config.name, serverPort);
    this.#route = route;
    this.#up = upstream;
    this.#ex = exchange;
    this.#listener = listener;
    this.#startedAt = startedAt;
    this.#retry = route.router?.retry ?? null;
  }

  start(): void {
    const body = this.#ex.body();
    if (body !== null) {
      const guard = new BodyGuard(this.#route.maxBodyBytes, this.#route.bodyTimeoutMs);
      this.#guard = guard;
      this.#body = guard;
      pipeline(body, guard, noop);
    }
    this.#try();
  }

  /** From the first try that gets a host on: the route timeout, and the client's going away. */
  #watch(): void {
    this.#watching = true;
    this.#ex.onAborted(this.#clientAborted);
    const timeoutMs = this.#route.router?.timeoutMs ?? 0;
    if (timeoutMs > 0) {
      const d = new Deadline<GuardedForward>(this, GuardedForward.#onRouteTimer);
      this.#routeDeadline = d;
      d.arm(timeoutMs);
    }
  }

  #try(): void {
    const up = this.#up;
    const mem = up.mem;
    let host = up.pick(null);
    let ticket = REJECTED;
    const circuits = up.circuits;
    if (host !== -1 && circuits !== null) {
      ticket = circuits.admit(up.circuitOf(host), wallClock());
      if (ticket === REJECTED && up.guard.breaker?.scope === 'host') {
        // Per-host circuits: another host whose circuit admits the call.
        const skip = new Uint8Array(up.hosts.length);
        while (ticket === REJECTED && host !== -1) {
          skip[host] = 1;
          host = up.pick(skip);
          if (host !== -1) ticket = circuits.admit(host, wallClock());
        }
      }
      if (ticket === REJECTED) {
        this.#circuitOpen(host === -1 ? 0 : up.circuitOf(host));
        return;
      }
    }
    if (host === -1) {
      this.#answer(NO_HEALTHY);
      return;
    }
    // Envoy checks max_requests when the request asks for a stream, and takes the slot when
    // it gets a connection (attach): pending requests are bounded by max_pending_requests.
    const limits = up.guard.limits;
    if (
      limits !== null &&
      (mem.load(C.RQ) >= limits.default.maxRequests ||
        mem.load(mem.h(host, H.RQ)) >= limits.perHost.maxRequests)
    ) {
      mem.add(C.PENDING_OVERFLOW, 1);
      this.#overflow(ticket, host);
      return;
    }
    this.#host = host;
    this.#ticket = ticket;
    this.#tries++;
    if (!this.#watching) this.#watch();
    const got = up.hosts[host].acquire(this);
    if (got === 'overflow') {
      this.#ticket = REJECTED;
      this.#overflow(ticket, host);
      return;
    }
    this.#pending = got === 'pending';
  }

  /** Takes an active-request slot (cluster and host) within max_requests; false: overflow. */
  #takeRq(): boolean {
    const mem = this.#up.mem;
    const host = this.#host;
    const limits = this.#up.guard.limits;
    if (!mem.take(C.RQ, limits?.default.maxRequests ?? UNLIMITED)) return false;
    if (!mem.takeHost(host, H.RQ, limits?.perHost.maxRequests ?? UNLIMITED)) {
      mem.give(C.RQ);
      return false;
    }
    this.#holdsRq = true;
    return true;
  }

  /** A connection for this try (now, or after waiting as pending). */
  attach(client: Client): void {
    this.#pending = false;
    if (this.#stopped !== 0 || this.#done) {
      this.#up.hosts[this.#host].release(client, false);
      return;
    }
    if (!this.#takeRq()) {
      this.#up.hosts[this.#host].release(client, false);
      this.#up.mem.add(C.PENDING_OVERFLOW, 1);
      const ticket = this.#ticket;
      this.#ticket = REJECTED;
      this.#overflow(ticket, this.#host);
      return;
    }
    this.#client = client;
    this.#status = 0;
    this.#discard = false;
    this.#tryStartedAt = tick();
    const server = this.#route.upstream.servers[this.#host];
    server.stats.counters.active++;
    const perTry = this.#retry?.perTryTimeoutMs ?? 0;
    const routeMs = this.#route.router?.timeoutMs ?? 0;
    // Envoy ignores a per-try timeout at or over the route's.
    if (perTry > 0 && (routeMs === 0 || perTry < routeMs)) {
      let d = this.#tryDeadline;
      if (d === null) {
        d = new Deadline<GuardedForward>(this, GuardedForward.#onTryTimer);
        this.#tryDeadline = d;
      }
      d.arm(perTry);
    }
    this.#headers ??= this.#route.headers.build(this);
    client.dispatch(
      {
        path: this.uri,
        method: this.method as Dispatcher.HttpMethod,
        headers: this.#headers,
        body: this.#body,
      },
      this,
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#stopped === STOPPED_CLIENT)
      abort(new ClientClosed('the client closed its connection'));
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true;
    this.#status = status;
    this.#resume = resume;
    const server = this.#route.upstream.servers[this.#host];
    server.stats.headed((tick() - this.#tryStartedAt) * 1000);
    if (this.#retriableStatus(status) && this.#mayRetry()) {
      // Read and drop this response; the retry starts when it is complete (the connection stays good).
      this.#discard = true;
      return true;
    }
    const { headers, length } = responseHeaders(raw);
    this.#ex.writeHead(status, headers, length);
    return true;
  }

  readonly #drained = (): void => {
    this.#resume?.();
  };

  onData(chunk: Buffer): boolean {
    if (this.#discard) return true;
    this.#responseBytes += chunk.length;
    if (this.#ex.write(chunk)) return true;
    this.#ex.onDrain(this.#drained);
    return false;
  }

  onComplete(): void {
    const status = this.#status;
    this.#endTry(status, false);
    if (this.#discard) {
      this.#scheduleRetry();
      return;
    }
    this.#ex.end();
    this.#finish(status, 0);
  }

  onError(err: Error): void {
    if (this.#done && this.#stopped === 0) return;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (err instanceof BodyError) {
      this.#endTry(0, true, true);
      this.#fail(err.status, err.message);
      return;
    }
    if (err instanceof ClientClosed || this.#stopped === STOPPED_CLIENT) {
      this.#endTry(0, true, true);
      this.#finish(499, 0);
      return;
    }
    if (this.#stopped === STOPPED_TIMEOUT) {
      // The route timer already answered; this is its abort coming back.
      this.#endTry(LOCAL_TIMEOUT, true);
      return;
    }
    const timedOut = err instanceof TryTimeout;
    let reason: ResetReason = 'termination';
    let result: number = 503;
    if (timedOut) result = LOCAL_TIMEOUT;
    else if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      reason = 'connect_timeout';
      result = LOCAL_TIMEOUT;
    } else if (CONNECT_REFUSED.has(code)) {
      reason = 'connect_failure';
      result = LOCAL_CONNECT_FAILURE;
    }
    const headSent = this.#ex.headSent;
    this.#endTry(headSent ? 503 : result, true);
    if (headSent) {
      // Part of the response reached the client: only cutting its connection tells it.
      this.#ex.destroy();
      this.#finish(this.#status, 0);
      return;
    }
    const retryOn = this.#retry?.retryOn ?? [];
    const connectFailure = reason === 'connect_failure' || reason === 'connect_timeout';
    // Envoy's wouldRetryFromReset: no response at all (reset, connect failure, per-try
    // timeout) is retried under 5xx, gateway-error and reset; connect-failure covers its own.
    const covered =
      retryOn.includes('5xx') ||
      retryOn.includes('gateway-error') ||
      retryOn.includes('reset') ||
      (connectFailure && retryOn.includes('connect-failure'));
    if (covered && this.#mayRetry()) {
      this.#scheduleRetry();
      return;
    }
    if (timedOut) this.#answer(TIMEOUT);
    else this.#answer(localAnswer(503, resetBody(reason, this.#tries > 1), []));
  }

  #retriableStatus(status: number): boolean {
    const p = this.#retry;
    if (p === null) return false;
    for (const on of p.retryOn) {
      if (on === '5xx' && status >= 500) return true;
      if (on === 'gateway-error' && status >= 502 && status <= 504) return true;
      if (on === 'retriable-4xx' && status === 409) return true;
      if (on === 'retriable-status-codes' && p.retriableStatusCodes.includes(status)) return true;
    }
    return false;
  }

  /** Tries left, an idempotent request without a body, and room under max_retries (or the budget). */
  #mayRetry(): boolean {
    const p = this.#retry;
    if (p === null || this.#stopped !== 0 || this.#tries > p.numRetries) return false;
    if (this.#body !== null) return false;
    if (!p.retryNonIdempotent && !IDEMPOTENT.has(this.method)) return false;
    const mem = this.#up.mem;
    const limits = this.#up.guard.limits;
    if (this.#retryHeld) return true;
    let max = UNLIMITED;
    if (limits !== null) {
      const budget = limits.default.retryBudget;
      max =
        budget === null
          ? limits.default.maxRetries
          : Math.max(
              budget.minRetryConcurrency,
              Math.floor(((mem.load(C.RQ) + mem.load(C.PENDING)) * budget.budgetPercent) / 100),
            );
    }
    if (!mem.take(C.RETRIES, max)) {
      mem.add(C.RETRY_OVERFLOW, 1);
      return false;
    }
    this.#retryHeld = true;
    this.#route.upstream.stats.counters.retries++;
    return true;
  }

  /** Envoy's backoff: full jitter over base × 2^(n−1), capped at max. */
  #scheduleRetry(): void {
    const p = this.#retry as RetryPolicy;
    const ceiling = Math.min(p.backoffBaseMs * 2 ** (this.#tries - 1), p.backoffMaxMs);
    this.#backoffTimer = setTimeout(GuardedForward.#onBackoff, Math.random() * ceiling, this);
  }

  // Timers and deadlines get the request as an argument: one shared function, no closure per request.
  static #onBackoff(f: GuardedForward): void {
    f.#retryNow();
  }

  static #onTryTimer(f: GuardedForward): void {
    f.#tryTimedOut();
  }

  static #onRouteTimer(f: GuardedForward): void {
    f.#routeTimedOut();
  }

  #retryNow(): void {
    this.#backoffTimer = null;
    if (this.#stopped === 0 && !this.#done) this.#try();
  }

  /** One try is over: its connection goes back, its outcome feeds outlier detection and the circuit. */
  #endTry(result: number, broken: boolean, clientSide = false): void {
    this.#tryDeadline?.disarm();
    const host = this.#host;
    if (host === -1) return;
    const up = this.#up;
    if (this.#pending) {
      up.hosts[host].forget(this);
      this.#pending = false;
    }
    const client = this.#client;
    if (client !== null) {
      this.#client = null;
      up.hosts[host].release(client, broken);
      const server = this.#route.upstream.servers[host];
      server.stats.counters.active--;
      server.stats.finished(result > 0 ? result : result === LOCAL_TIMEOUT ? 504 : 503, 0, 0);
      if (!clientSide) {
        const now = wallClock();
        const outlier = up.guard.outlier;
        if (outlier !== null && recordResult(up.mem, outlier, host, result, now))
          up.log.warn(
            { upstream: up.config.name, host: up.config.servers[host].name },
            `outlier ejected ${up.config.servers[host].name} (consecutive errors)`,
          );
        if (up.circuits !== null && this.#ticket !== REJECTED)
          up.circuits.record(
            up.circuitOf(host),
            this.#ticket,
            result < 0 || result >= 500,
            tick() - this.#tryStartedAt,
            now,
          );
      }
    }
    // Let in by the circuit and ended without an outcome (the client left, a body error, no
    // connection yet): not counted, so a probe's permit goes back, or half-open waits for ever.
    if (this.#ticket !== REJECTED && (client === null || clientSide))
      up.circuits?.giveBack(up.circuitOf(host), this.#ticket);
    this.#ticket = REJECTED;
    this.#releaseRq();
    this.#abort = null;
  }

  #releaseRq(): void {
    if (!this.#holdsRq) return;
    this.#holdsRq = false;
    const mem = this.#up.mem;
    mem.give(C.RQ);
    mem.giveHost(this.#host, H.RQ);
  }

  #tryTimedOut(): void {
    this.#abort?.(new TryTimeout('per_try_timeout'));
  }

  #routeTimedOut(): void {
    if (this.#done) return;
    this.#stopped = STOPPED_TIMEOUT;
    if (this.#backoffTimer !== null) clearTimeout(this.#backoffTimer);
    const abort = this.#abort;
    if (this.#client === null) this.#endTry(LOCAL_TIMEOUT, false, true);
    if (this.#ex.headSent) {
      this.#ex.destroy();
      this.#finish(this.#status, 0);
    } else this.#answer(TIMEOUT);
    abort?.(new TryTimeout('route timeout'));
  }

  readonly #clientAborted = (): void => {
    if (this.#done) return;
    this.#stopped = STOPPED_CLIENT;
    if (this.#backoffTimer !== null) clearTimeout(this.#backoffTimer);
    this.#guard?.destroy();
    if (this.#abort !== null) this.#abort(new ClientClosed('the client closed its connection'));
    else {
      this.#endTry(0, false, true);
      this.#finish(499, 0);
    }
  };

  #overflow(ticket: number, host: number): void {
    // Not a call the backend saw: a probe's permit goes back, nothing is counted.
    if (ticket !== REJECTED) this.#up.circuits?.giveBack(this.#up.circuitOf(host), ticket);
    this.#answer(OVERFLOW);
  }

  #circuitOpen(circuit: number): void {
    const circuits = this.#up.circuits;
    const after = circuits === null ? 1 : circuits.retryAfterSeconds(circuit, wallClock());
    // Half-open with every probe permit taken answers the same way, and says so.
    const state = circuits?.state(circuit) === HALF_OPEN ? 'half-open' : 'open';
    this.#answer(circuitOpenAnswer(after, state));
  }

  #fail(status: number, text: string): void {
    this.#ex.reply(status, text, true);
    this.#finish(status, 0);
  }

  #answer(a: LocalAnswer): void {
    this.#finish(a.status, sendAnswer(this.#ex, a));
  }

  #finish(status: number, localBytes: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#routeDeadline?.disarm();
    if (this.#backoffTimer !== null) clearTimeout(this.#backoffTimer);
    if (this.#retryHeld) {
      this.#retryHeld = false;
      this.#up.mem.give(C.RETRIES);
    }
    const requestBytes = this.#guard?.bytes ?? 0;
    const responseBytes = this.#responseBytes + localBytes;
    this.#route.upstream.stats.answered(
      status,
      requestBytes,
      responseBytes,
      (tick() - this.#startedAt) * 1000,
    );
    this.#listener.answered(status, requestBytes, responseBytes);
  }
}

function noop(): void {}
