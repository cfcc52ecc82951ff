/**
 * The `global` section: environment (setenv, presetenv, unsetenv, resetenv) applied at once so
 * later lines see it; `maxconn` (the default for every service), `hard-stop-after` (legate's
 * drain timeout); the rest tunes only HAProxy itself and is warned about.
 */
import type { Report, Statement } from './report.ts';
import type { Environment } from './statements.ts';
import { parseCount, parseTime } from './units.ts';

export interface GlobalSettings {
  maxconn: number | null;
  drainTimeoutMs: number | null;
}

const TUNING_PREFIXES = [
  'tune.',
  'ssl-',
  'stats',
  'log',
  'lua-',
  'ca-base',
  'crt-base',
  'server-state',
  'cpu-map',
  'set-var',
  'h1-',
  'h2-',
  'httpclient',
  'profiling',
  'numa',
  'no',
  'busy',
  'max',
  'thread-',
  'wurfl',
  '51degrees',
  'deviceatlas',
  'presetenv-',
  'spread-checks',
  'max-spread-checks',
  'ocsp',
  'issuers-chain-path',
  'fd-hard-limit',
];
const TUNING: ReadonlySet<string> = new Set([
  'daemon',
  'master-worker',
  'user',
  'group',
  'uid',
  'gid',
  'chroot',
  'pidfile',
  'ulimit-n',
  'nbthread',
  'nbproc',
  'node',
  'description',
  'localpeer',
  'strict-limits',
  'quiet',
  'zero-warning',
  'insecure-fork-wanted',
  'insecure-setuid-wanted',
  'set-dumpable',
  'expose-experimental-directives',
  'external-check',
  'grace',
  'unix-bind',
  'uid',
  'mworker-max-reloads',
  'default-path',
  'cluster-secret',
  'hard-stop-after-workers',
  'pp2-never-send-local',
  'description',
]);

const HINTS: Readonly<Record<string, string>> = {
  nbthread:
    'legate runs one worker thread per core unless told otherwise; set LEGATE_WORKERS (or workers: in a legate.yml) to choose',
};

export function applyGlobalStatement(
  stmt: Statement,
  env: Environment,
  settings: GlobalSettings,
  report: Report,
): void {
  const w = stmt.words.map((x) => x.text);
  switch (w[0]) {
    case 'setenv':
    case 'presetenv':
      if (w.length !== 3) {
        report.error(stmt, `'${w[0]}' expects a name and a value (quote a value with spaces)`);
        return;
      }
      if (w[0] === 'setenv' || !env.vars.has(w[1])) env.vars.set(w[1], w[2]);
      return;
    case 'unsetenv':
      for (const name of w.slice(1)) env.vars.delete(name);
      return;
    case 'resetenv': {
      const keep = new Set(w.slice(1));
      for (const name of [...env.vars.keys()]) if (!keep.has(name)) env.vars.delete(name);
      return;
    }
    case 'maxconn': {
      const n = parseCount(w[1] ?? '', 1, 2 ** 31 - 1);
      if (typeof n === 'string') report.error(stmt, `'maxconn' ${n}`, 1);
      else settings.maxconn = n;
      return;
    }
    case 'hard-stop-after': {
      const ms = parseTime(w[1] ?? '');
      if (typeof ms === 'string') report.error(stmt, `'hard-stop-after': ${ms}`, 1);
      else settings.drainTimeoutMs = ms;
      return;
    }
  }
  if (TUNING.has(w[0]) || TUNING_PREFIXES.some((p) => w[0].startsWith(p))) {
    const hint = HINTS[w[0]];
    report.warn(
      stmt,
      `'${w[0]}' only tunes HAProxy itself; legate ignores it${hint === undefined ? '' : ` (${hint})`}`,
    );
    return;
  }
  report.error(
    stmt,
    `unknown keyword '${w[0]}' in the global section; legate reads setenv, presetenv, unsetenv, resetenv, maxconn and hard-stop-after, and ignores HAProxy's own tuning (log, stats, nbthread, tune.*, …) with a warning`,
  );
}
