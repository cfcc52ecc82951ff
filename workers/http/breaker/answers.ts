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

/** A small text/plain answer with extra headers ([name, value, …]). */
export function localReply(
  ex: IngressExchange,
  status: number,
  body: string,
  extra: readonly string[],
): number {
  if (ex.headSent) {
    ex.destroy();
    return 0;
  }
  const bytes = Buffer.from(body, 'latin1');
  const headers = [
    'content-length',
    String(bytes.length),
    'content-type',
    'text/plain',
    ...extra,
    'server',
    'legate',
  ];
  ex.writeHead(status, headers, bytes.length);
  if (ex.method !== 'HEAD') ex.write(bytes);
  ex.end();
  return ex.method === 'HEAD' ? 0 : bytes.length;
}

export const OVERLOADED_HEADERS: readonly string[] = ['x-envoy-overloaded', 'true'];
