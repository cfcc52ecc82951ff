import { UsageError } from '../errors.ts';

/** A command-line option: nutcracker's short letter where nutcracker has one, and a long name. */
export interface OptionSpec {
  readonly long: string;
  readonly short?: string;
  /** 'flag': no value; 'value': needs one; 'level': nutcracker's `-v [N]`, an optional number. */
  readonly takes: 'flag' | 'value' | 'level';
}

export const OPTIONS: readonly OptionSpec[] = [
  { long: 'help', short: 'h', takes: 'flag' },
  { long: 'version', short: 'V', takes: 'flag' },
  { long: 'test-conf', short: 't', takes: 'flag' },
  { long: 'daemonize', short: 'd', takes: 'flag' },
  { long: 'describe-stats', short: 'D', takes: 'flag' },
  { long: 'verbose', short: 'v', takes: 'level' },
  { long: 'conf-file', short: 'c', takes: 'value' },
  { long: 'workers', short: 'w', takes: 'value' },
  { long: 'output', short: 'o', takes: 'value' },
  { long: 'pid-file', short: 'p', takes: 'value' },
  { long: 'stats-port', short: 's', takes: 'value' },
  { long: 'stats-addr', short: 'a', takes: 'value' },
  { long: 'stats-interval', short: 'i', takes: 'value' },
  { long: 'mbuf-size', short: 'm', takes: 'value' },
  { long: 'admin', takes: 'value' },
  { long: 'log-format', takes: 'value' },
  { long: 'pool', takes: 'value' },
  { long: 'interval', takes: 'value' },
  { long: 'once', takes: 'flag' },
];

export interface ParsedArgs {
  /** Option long name → value ('' for a flag, the level's digits or '' for `-v`). */
  readonly options: ReadonlyMap<string, string>;
  readonly positionals: readonly string[];
}

function spec(token: string, name: string, byShort: boolean): OptionSpec {
  const found = OPTIONS.find((o) => (byShort ? o.short === name : o.long === name));
  if (!found) throw new UsageError(`unknown option '${token}' (see 'legate --help')`);
  return found;
}

/** Parses argv the way nutcracker's getopt does (`-cFILE`, `-c FILE`, `--conf-file=FILE`), plus positionals. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let o: OptionSpec;
    let inline: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      o = spec(token, eq === -1 ? token.slice(2) : token.slice(2, eq), false);
      inline = eq === -1 ? undefined : token.slice(eq + 1);
    } else if (token.startsWith('-') && token.length > 1) {
      o = spec(token, token[1], true);
      inline = token.length > 2 ? token.slice(2) : undefined;
    } else {
      positionals.push(token);
      continue;
    }
    if (o.takes === 'flag') {
      if (inline !== undefined) throw new UsageError(`option '--${o.long}' takes no value`);
      options.set(o.long, '');
    } else if (o.takes === 'level') {
      if (inline === undefined && /^\d+$/.test(argv[i + 1] ?? '')) inline = argv[++i];
      if (inline !== undefined && !/^\d+$/.test(inline)) {
        throw new UsageError(`option '--${o.long}' takes a number, got '${inline}'`);
      }
      options.set(o.long, inline ?? '');
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`option '--${o.long}' needs a value`);
      options.set(o.long, value);
    }
  }
  return { options, positionals };
}

/** A positive integer option, or undefined when absent. */
export function intOption(
  args: ParsedArgs,
  name: string,
  min = 1,
  max = 2 ** 31 - 1,
): number | undefined {
  const raw = args.options.get(name);
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`option '--${name}' needs an integer from ${min} to ${max}, got '${raw}'`);
  }
  return n;
}
