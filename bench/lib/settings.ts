// The Redis bench's command line.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './processes.ts';

export const TEST_NAMES = ['set', 'get', 'incr', 'lpush', 'mset', 'mget'] as const;
export type TestName = (typeof TEST_NAMES)[number];

export interface Settings {
  readonly quick: boolean;
  /** Run only the idle-connection memory section. */
  readonly memoryOnly: boolean;
  readonly rounds: number;
  /** -n for every run; undefined: calibrate each target so a run lasts about `runSeconds`. */
  readonly requests: number | undefined;
  readonly runSeconds: number;
  readonly tests: readonly TestName[];
  readonly pipelines: readonly number[];
  readonly clients: number;
  readonly keyspace: number;
  readonly idleClients: number;
  readonly workersAuto: number;
  readonly out: string;
}

export const USAGE = `npm run bench -- redis [options]

Compares direct redis-server, nutcracker and legate (-w auto and -w 1) over the same three
shards with redis-benchmark, interleaved over several rounds; then holds idle connections to
each proxy to measure memory per client. Prints a markdown table; writes redis.json and SVG
charts under --out.

  --rounds N           rounds of every test on every target (default 3)
  -n, --requests N     requests per redis-benchmark run (default: calibrated per target so a
                       run lasts about 2.5 s)
  --tests a,b          of ${TEST_NAMES.join(',')} (default: all)
  --pipeline 1,16      redis-benchmark -P values (default 1,16)
  --clients N          redis-benchmark -c (default 50)
  --idle-clients N     idle connections per proxy in the memory section (default 9000)
  --memory             run only the memory section
  --quick              tiny sizes, one round, two tests: proves the harness works, measures
                       nothing
  --out DIR            where results go (default bench/results)
  -h, --help           this help
`;

export class SettingsError extends Error {}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new SettingsError(`--${name} needs a positive integer, got '${raw}'`);
  return n;
}

function list<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item))
      throw new SettingsError(`--${name}: unknown '${item}' (choose from ${allowed.join(', ')})`);
  }
  if (items.length === 0) throw new SettingsError(`--${name} needs at least one value`);
  return [...new Set(items)] as T[];
}

/** Parses the bench's arguments; undefined means --help was asked for. */
export function parseSettings(argv: readonly string[]): Settings | undefined {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new SettingsError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return undefined;
  if (parsed.positionals.length > 0)
    throw new SettingsError(`unexpected argument '${parsed.positionals[0]}'`);
  const quick = v.quick === true;
  const pipelines = (v.pipeline ?? '1,16')
    .split(',')
    .map((p) => positiveInt('pipeline', p.trim(), 1));
  return {
    quick,
    memoryOnly: v.memory === true,
    rounds: positiveInt('rounds', v.rounds, quick ? 1 : 3),
    requests:
      v.requests !== undefined ? positiveInt('requests', v.requests, 1) : quick ? 2000 : undefined,
    runSeconds: 2.5,
    tests:
      v.tests !== undefined
        ? list('tests', v.tests, TEST_NAMES)
        : quick
          ? ['set', 'mget']
          : [...TEST_NAMES],
    pipelines: [...new Set(pipelines)],
    clients: positiveInt('clients', v.clients, 50),
    keyspace: 100000,
    idleClients: positiveInt('idle-clients', v['idle-clients'], quick ? 200 : 9000),
    workersAuto: availableParallelism(),
    out: v.out ?? join(ROOT, 'bench/results'),
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      rounds: { type: 'string' },
      requests: { type: 'string', short: 'n' },
      quick: { type: 'boolean' },
      memory: { type: 'boolean' },
      tests: { type: 'string' },
      pipeline: { type: 'string' },
      clients: { type: 'string' },
      'idle-clients': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
