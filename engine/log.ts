import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { pino } from 'pino';
import type { LogLevel } from './config/types.ts';
import { UsageError } from './errors.ts';

export type Logger = pino.Logger;

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const require = createRequire(import.meta.url);

/**
 * The format every logger of this process uses. It travels in LEGATE_LOG_FORMAT because worker
 * threads inherit the environment but not the main thread's terminal (their stdout is a pipe).
 */
function currentFormat(): LogFormat {
  return process.env.LEGATE_LOG_FORMAT === 'pretty' ? 'pretty' : 'json';
}

/**
 * `--log-format`, else LEGATE_LOG_FORMAT, else plain lines on a terminal and JSON otherwise
 * (kubectl logs and log shippers read JSON). Sets the choice for worker threads too.
 */
export function chooseLogFormat(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  toTerminal: boolean,
): LogFormat {
  const given = flag ?? env.LEGATE_LOG_FORMAT;
  if (given !== undefined && given !== '' && !(LOG_FORMATS as readonly string[]).includes(given)) {
    const from = flag !== undefined ? '--log-format' : 'LEGATE_LOG_FORMAT';
    throw new UsageError(`${from} must be one of ${LOG_FORMATS.join(', ')}, got '${given}'`);
  }
  const format: LogFormat = given ? (given as LogFormat) : toTerminal ? 'pretty' : 'json';
  process.env.LEGATE_LOG_FORMAT = format;
  return format;
}

const LEVEL_WORDS: Readonly<Record<number, string>> = {
  10: 'trace: ',
  20: 'debug: ',
  30: '',
  40: 'warning: ',
  50: 'error: ',
  60: 'fatal: ',
};

/** One pino JSON line as a person reads it: `legate: listening on …`, `legate[w1]: error: …`. */
export function plainLine(json: string): string {
  const event = JSON.parse(json) as { level: number; msg?: string; worker?: number };
  const who = event.worker === undefined ? 'legate' : `legate[w${event.worker}]`;
  return `${who}: ${LEVEL_WORDS[event.level] ?? ''}${event.msg ?? ''}\n`;
}

/** A synchronous destination that writes plain lines; logs are rare, so parsing each is cheap. */
function plainDestination(fd: number): { write(line: string): void } {
  return { write: (line) => void writeSync(fd, plainLine(line)) };
}

/**
 * One event per line on standard output (or appended to `file`, nutcracker's -o), written
 * synchronously so that lines from the main thread and the workers never interleave mid-line and
 * nothing is lost at exit. JSON, or plain lines (see chooseLogFormat); a file always gets JSON.
 */
export function createLogger(
  level: LogLevel,
  bindings: Record<string, unknown> = {},
  file: string | null = null,
): Logger {
  // pino is loaded here, not at import: a worker with nothing to say never loads it.
  const { pino } = require('pino') as typeof import('pino');
  const options = {
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (file !== null)
    return pino(options, pino.destination({ dest: file, sync: true, append: true, mkdir: true }));
  if (currentFormat() === 'pretty') return pino(options, plainDestination(1));
  return pino(options, pino.destination({ fd: 1, sync: true }));
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
