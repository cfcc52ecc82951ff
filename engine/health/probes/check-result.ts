/**
 * What one health check found, in HAProxy's `check_status` vocabulary so that operators moving
 * from HAProxy read the same codes: L4OK/L4CON/L4TOUT (TCP), L6OK/L6RSP/L6TOUT (TLS),
 * L7OK/L7RSP/L7STS/L7TOUT (the protocol), SOCKERR (a local socket error).
 */
export type CheckStatus =
  | 'L4OK'
  | 'L4CON'
  | 'L4TOUT'
  | 'L6OK'
  | 'L6RSP'
  | 'L6TOUT'
  | 'L7OK'
  | 'L7RSP'
  | 'L7STS'
  | 'L7TOUT'
  | 'SOCKERR';

export interface CheckResult {
  readonly ok: boolean;
  readonly code: CheckStatus;
  /** A sentence for logs and /stats, e.g. "PostgreSQL refused: FATAL 28000 no pg_hba.conf entry …". */
  readonly reason: string;
  readonly durationMs: number;
}

const PASSING: ReadonlySet<CheckStatus> = new Set(['L4OK', 'L6OK', 'L7OK']);

export function isPassing(code: CheckStatus): boolean {
  return PASSING.has(code);
}

/**
 * How a probe ends early: thrown from deep inside a conversation (a refused connect, a timeout
 * while reading, an unexpected answer) and turned into a CheckResult by runCheck.
 */
export class CheckFailure extends Error {
  readonly code: CheckStatus;
  constructor(code: CheckStatus, reason: string) {
    super(reason);
    this.code = code;
    this.name = 'CheckFailure';
  }
}

/** A probe's verdict before timing is added. */
export interface Verdict {
  readonly code: CheckStatus;
  readonly reason: string;
}
