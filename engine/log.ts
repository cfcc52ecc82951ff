import { writeSync } from 'node:fs';
import { pino } from 'pino';
import type { LogLevel } from './config/types.ts';
import { UsageError } from './errors.ts';

export type Logger = pino.Logger;

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

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
