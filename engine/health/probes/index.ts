// Health probes for the service-broker (tcp) role: one module per check kind, one entry point.
import type { HealthCheckKind } from '../../config/tcp-types.ts';
import { CheckFailure, type CheckResult, isPassing, type Verdict } from './check-result.ts';
import { probeMysql } from './mysql.ts';
import { probePostgres } from './postgres.ts';
import { probeRedis } from './redis.ts';
import { probeSendExpect } from './send-expect.ts';
import { probeTcp } from './tcp.ts';

export type { CheckResult, CheckStatus } from './check-result.ts';

/**
 * Runs one health check of `kind` against target within `timeoutMs` (connect, TLS and every
 * exchange together). Never rejects: every outcome, a bug included, is a CheckResult; the
 * probe's socket is closed before the promise settles.
 */
export async function runCheck(
  kind: HealthCheckKind,
  target: { host: string; port: number },
  timeoutMs: number,
): Promise<CheckResult> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  let verdict: Verdict;
  try {
    verdict = await probe(kind, target.host, target.port, deadline);
  } catch (err) {
    verdict =
      err instanceof CheckFailure
        ? { code: err.code, reason: err.message }
        : { code: 'SOCKERR', reason: `check failed: ${(err as Error)?.message ?? String(err)}` };
  }
  return {
    ok: isPassing(verdict.code),
    code: verdict.code,
    reason: verdict.reason,
    durationMs: performance.now() - started,
  };
}

function probe(
  kind: HealthCheckKind,
  host: string,
  port: number,
  deadline: number,
): Promise<Verdict> {
  switch (kind.kind) {
    case 'tcp':
      return probeTcp(host, port, deadline);
    case 'postgres':
      return probePostgres(kind, host, port, deadline);
    case 'redis':
      return probeRedis(host, port, deadline);
    case 'mysql':
      return probeMysql(kind.user, host, port, deadline);
    case 'send-expect':
      return probeSendExpect(kind.steps, host, port, deadline);
  }
}
