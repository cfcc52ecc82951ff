import { LegateError } from '../errors.ts';

/** One thing wrong with a config file, placed so an editor can jump to it. */
export interface ConfigIssue {
  readonly file: string;
  /** 1-based; 0 when the issue has no place in the file (unreadable file, environment variable). */
  readonly line: number;
  /** 1-based; 0 together with `line`. */
  readonly column: number;
  /** Key path like `redis.servers[1]`, or `$LEGATE_WORKERS` for an environment variable; '' for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

/**
 * `FILE:LINE:COL: PATH: MESSAGE`, the form compilers use so terminals and editors link it.
 * Parts that do not apply are left out rather than printed as zeros or blanks.
 */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return issue.path === ''
    ? `${where}: ${issue.message}`
    : `${where}: ${issue.path}: ${issue.message}`;
}

/** A config that cannot be used; carries every issue found, so one run shows the user all of them. */
export class ConfigError extends LegateError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super('LEGATE_CONFIG', issues.map(formatIssue).join('\n'));
    this.issues = issues;
  }
}
