import type { IngressExchange } from '../ingress/types.ts';

/**
 * The answers Envoy's router makes itself (source/common/router/router.cc, http/utility.cc),
 * byte for byte in status and body, and the classic breaker's.
 */
export const RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. ';
export const OVERFLOW_BODY = `${RESET_PREFIX}reset reason: overflow`;
export const NO_HEALTHY_BODY = 'no healthy upstream';
export const TIMEOUT_BODY = 'upstream request timeout';
export const CIRCUIT_OPEN_BODY = 'circuit open: the upstream is failing, not tried';

/** Why a try ended without a response, in Envoy's words. */
export type ResetReason = 'connect_failure' | 'connect_timeout' | 'termination';

const REASONS: Readonly<Record<ResetReason, string>> = {
  connect_failure:
    'remote connection failure, transport failure reason: delayed connect error: 111',
  connect_timeout: 'connection timeout',
  termination: 'connection termination',
};

/** Envoy's 503 body for a reset before headers; after retries it says "retried and the latest". */
export function resetBody(reason: ResetReason, retried: boolean): string {
  return retried
    ? `${RESET_PREFIX}retried and the latest reset reason: ${REASONS[reason]}`
    : `${RESET_PREFIX}reset reason: ${REASONS[reason]}`;
}

/** An answer legate makes itself, its bytes and headers built once. */
export interface LocalAnswer {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: readonly string[];
}

/** A text/plain answer with extra headers ([name, value, …]). */
export function localAnswer(status: number, body: string, extra: readonly string[]): LocalAnswer {
  const bytes = Buffer.from(body, 'latin1');
  return {
    status,
    body: bytes,
    headers: [
      'content-length',
      String(bytes.length),
      'content-type',
      'text/plain',
      ...extra,
      'server',
      'legate',
    ],
  };
}

/** The answers every worker gives again and again, made once (the fast path of an open breaker). */
export const OVERFLOW = localAnswer(503, OVERFLOW_BODY, ['x-envoy-overloaded', 'true']);
export const NO_HEALTHY = localAnswer(503, NO_HEALTHY_BODY, []);
export const TIMEOUT = localAnswer(504, TIMEOUT_BODY, []);

const openAnswers = new Map<number, LocalAnswer>();

/** The open circuit's 503: Retry-After in seconds, and whether it is open or half-open (kept per pair). */
export function circuitOpenAnswer(retryAfter: number, state: 'open' | 'half-open'): LocalAnswer {
  const key = retryAfter * 2 + (state === 'open' ? 0 : 1);
  let a = openAnswers.get(key);
  if (a === undefined) {
    // Bounded: Retry-After takes at most as many values as the open wait has seconds.
    if (openAnswers.size >= 4096) openAnswers.clear();
    a = localAnswer(503, CIRCUIT_OPEN_BODY, [
      'retry-after',
      String(retryAfter),
      'x-legate-circuit',
      state,
    ]);
    openAnswers.set(key, a);
  }
  return a;
}

/** Sends `a`; returns the body bytes sent (0 for HEAD, or when the head was already out and the connection is cut). */
export function sendAnswer(ex: IngressExchange, a: LocalAnswer): number {
  if (ex.headSent) {
    ex.destroy();
    return 0;
  }
  ex.writeHead(a.status, a.headers, a.body.length);
  if (ex.method !== 'HEAD') ex.write(a.body);
  ex.end();
  return ex.method === 'HEAD' ? 0 : a.body.length;
}
