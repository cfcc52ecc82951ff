import { readFileSync } from 'node:fs';
import { ConfigError, formatIssue } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';
import type { LegateConfig, LogLevel } from '../config/types.ts';
import { LegateError, UsageError } from '../errors.ts';
import { resumeJit } from '../jit.ts';
import { chooseLogFormat } from '../log.ts';
import { VERSION } from '../version.ts';
import { intOption, type ParsedArgs, parseArgs } from './args.ts';
import { findConfig } from './find-config.ts';
import { choosePool, locateKeys, splitKeys } from './locate.ts';
import { USAGE } from './usage.ts';

const COMMANDS = ['run', 'demo', 'locate', 'top'] as const;
type Command = (typeof COMMANDS)[number];

/** nutcracker's -v levels (0-11, default 5) mapped onto pino's. */
export function verbosityLevel(raw: string): LogLevel {
  if (raw === '') return 'debug';
  const n = Number(raw);
  if (n <= 3) return 'error';
  if (n === 4) return 'warn';
  if (n === 5) return 'info';
  return n <= 7 ? 'debug' : 'trace';
}

function configFile(args: ParsedArgs): string {
  return findConfig(args.options.get('conf-file') ?? process.env.LEGATE_CONFIG, process.env);
}

/** Runs the CLI; returns the exit code. Errors legate raised on purpose print as one clear message. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.options.has('help')) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.options.has('version')) {
      process.stdout.write(`This is legate-${VERSION}\n`);
      return 0;
    }
    if (args.options.has('describe-stats')) {
      const { describeStats } = await import('../admin/stats-port.ts');
      process.stdout.write(`This is legate-${VERSION}\n\n${describeStats()}`);
      return 0;
    }
    if (args.options.has('daemonize')) {
      throw new UsageError(
        'legate does not daemonize (-d); run it under a supervisor (systemd, a container)',
      );
    }
    const [first, ...rest] = args.positionals;
    const command: Command = first === undefined ? 'run' : (first as Command);
    if (!COMMANDS.includes(command)) {
      throw new UsageError(
        `unknown command '${first}' (commands: ${COMMANDS.join(', ')}; see 'legate --help')`,
      );
    }
    // Only `run` waits for its workers to listen before the optimizing compilers are back on.
    if (command !== 'run') resumeJit();
    // Before any logger exists, so the main thread and every worker log in one format.
    chooseLogFormat(args.options.get('log-format'), process.env, process.stdout.isTTY === true);
    if (command === 'demo') {
      const { runDemo } = await import('./demo/demo.ts');
      return await runDemo(args);
    }
    if (command === 'top') {
      if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
      const { runTop } = await import('./top.ts');
      return await runTop(args);
    }
    const file = configFile(args);
    const config = loadConfig(file);
    for (const warning of config.warnings) {
      process.stderr.write(`legate: warning: ${formatIssue(warning)}\n`);
    }
    if (args.options.has('test-conf')) {
      for (const w of config.warnings) process.stderr.write(`legate: warning: ${formatIssue(w)}\n`);
      process.stdout.write(`legate: configuration file '${file}' syntax is ok\n`);
      return 0;
    }
    if (command === 'locate') return await locate(config, args, rest);
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    const { runProxy } = await import('../supervisor/run.ts');
    return await runProxy(config, runOptions(config, args));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`legate: configuration error:\n${err.message}\n`);
      return 1;
    }
    if (err instanceof LegateError) {
      const hint = err instanceof UsageError ? " (see 'legate --help')" : '';
      process.stderr.write(`legate: ${err.message}${err.message.includes('--help') ? '' : hint}\n`);
      return 1;
    }
    throw err;
  }
}

export interface RunOptions {
  readonly workers: number | undefined;
  readonly logLevel: LogLevel;
  /** --admin or LEGATE_ADMIN; else the config's admin.listen. Port 0 binds any free port. */
  readonly admin: { readonly host: string; readonly port: number } | undefined;
  readonly statsPort: number;
  readonly statsAddr: string;
  /** How often workers report their counters and histograms (nutcracker's -i). */
  readonly statsIntervalMs: number;
  /** nutcracker's -o: append logs to this file. */
  readonly logFile: string | null;
  /** nutcracker's -p: write the process id here while running. */
  readonly pidFile: string | null;
  /** Called once legate serves and its SIGINT/SIGTERM handlers are in place (`legate demo` prints its banner then). */
  readonly onServing?: () => void;
}

/** `host:port` or `[v6]:port` with a port from 0 (any free port) to 65535. */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+|.*):(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`${what} must be host:port (port 0-65535), got '${text}'`);
  }
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

export function runOptions(config: LegateConfig, args: ParsedArgs): RunOptions {
  const verbose = args.options.get('verbose');
  const admin = args.options.get('admin') ?? process.env.LEGATE_ADMIN;
  return {
    workers: intOption(args, 'workers', 1, 256),
    logLevel: verbose === undefined ? config.log.level : verbosityLevel(verbose),
    admin:
      admin === undefined
        ? undefined
        : parseHostPort(admin, args.options.has('admin') ? '--admin' : 'LEGATE_ADMIN'),
    statsPort: intOption(args, 'stats-port', 0, 65535) ?? 22222,
    statsAddr: args.options.get('stats-addr') ?? '127.0.0.1',
    statsIntervalMs: intOption(args, 'stats-interval', 100, 3600000) ?? 1000,
    logFile: args.options.get('output') ?? null,
    pidFile: args.options.get('pid-file') ?? null,
  };
}

async function locate(
  config: LegateConfig,
  args: ParsedArgs,
  keys: readonly string[],
): Promise<number> {
  const pool = choosePool(config.redis, args.options.get('pool'));
  const input = keys.length > 0 ? keys.map((k) => Buffer.from(k)) : splitKeys(readFileSync(0));
  const chunks: Buffer[] = [];
  locateKeys(pool, input, (c) => chunks.push(c));
  process.stdout.write(Buffer.concat(chunks));
  return 0;
}
