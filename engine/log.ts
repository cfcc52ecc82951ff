import { createRequire } from 'node:module';
import type { pino } from 'pino';
import type { LogLevel } from './config/types.ts';

export type Logger = pino.Logger;

const require = createRequire(import.meta.url);

/**
 * One JSON line per event on standard output (or appended to `file`, nutcracker's -o), written
 * synchronously so that lines from the main thread and the workers never interleave mid-line and
 * nothing is lost at exit.
 */
export function createLogger(
  level: LogLevel,
  bindings: Record<string, unknown> = {},
  file: string | null = null,
): Logger {
  const { pino } = require('pino') as typeof import('pino');
  return pino(
    { level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime },
    file === null
      ? pino.destination({ fd: 1, sync: true })
      : pino.destination({ dest: file, sync: true, append: true, mkdir: true }),
  );
}

const LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};
const noop = (): void => {};

/**
 * createLogger's logger, made at its first line: a worker that has nothing to say never loads
 * pino (about 3 MB a thread). Calls below `level` are dropped without making it; `child`
 * stays lazy too.
 */
export function createLazyLogger(
  level: LogLevel,
  bindings: Record<string, unknown> = {},
  file: string | null = null,
): Logger {
  let real: Logger | null = null;
  return lazy(() => {
    real ??= createLogger(level, bindings, file);
    return real;
  }, LEVELS[level] ?? LEVELS.info);
}

function lazy(make: () => Logger, threshold: number): Logger {
  let made: Logger | null = null;
  const get = () => {
    made ??= make();
    return made;
  };
  // A Proxy so that it is a pino Logger to its users, whatever of pino's API they call.
  return new Proxy({} as Logger, {
    get(_, key) {
      if (typeof key === 'string' && key in LEVELS && key !== 'silent' && made === null)
        return LEVELS[key] < threshold ? noop : (...args: unknown[]) => callLevel(get(), key, args);
      if (key === 'child' && made === null)
        return (b: Record<string, unknown>) => lazy(() => get().child(b), threshold);
      const value = (get() as unknown as Record<string | symbol, unknown>)[key];
      return typeof value === 'function' ? value.bind(get()) : value;
    },
  });
}

function callLevel(logger: Logger, level: string, args: unknown[]): void {
  (logger as unknown as Record<string, (...a: unknown[]) => void>)[level](...args);
}
