import { pino } from 'pino';
import type { LogLevel } from './config/types.ts';

export type Logger = pino.Logger;

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
  return pino(
    { level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime },
    file === null
      ? pino.destination({ fd: 1, sync: true })
      : pino.destination({ dest: file, sync: true, append: true, mkdir: true }),
  );
}
