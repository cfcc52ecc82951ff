import { checkWorkers, type Settings } from './native.ts';
import type { ConfigSource } from './source.ts';
import { LOG_LEVELS, type LogLevel } from './types.ts';

/**
 * LEGATE_WORKERS and LEGATE_LOG_LEVEL over the file's values, so a container can tune one
 * instance without its own copy of the file. A bad value is refused, not ignored: the user
 * set it on purpose and should learn it did nothing. Empty counts as unset, as compose files
 * write `LEGATE_WORKERS=` to mean "not set here".
 */
export function applyEnvOverrides(
  settings: Settings,
  env: NodeJS.ProcessEnv,
  src: Pick<ConfigSource, 'reportElsewhere'>,
): Settings {
  let { workers, log } = settings;
  const rawWorkers = env.LEGATE_WORKERS;
  if (rawWorkers !== undefined && rawWorkers !== '') {
    const trimmed = rawWorkers.trim();
    const value = /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
    const result = checkWorkers(value, `'${rawWorkers}'`);
    if (typeof result === 'string') {
      src.reportElsewhere('$LEGATE_WORKERS', `${result} (environment variable overriding workers)`);
    } else {
      workers = result.workers;
    }
  }
  const rawLevel = env.LEGATE_LOG_LEVEL;
  if (rawLevel !== undefined && rawLevel !== '') {
    const level = rawLevel.trim().toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(level)) {
      log = { level: level as LogLevel };
    } else {
      src.reportElsewhere(
        '$LEGATE_LOG_LEVEL',
        `expected one of ${LOG_LEVELS.join(', ')}; got '${rawLevel}' (environment variable overriding log.level)`,
      );
    }
  }
  return { ...settings, workers, log };
}
