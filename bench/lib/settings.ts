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
  /** Skip the idle-connection memory section. */
  readonly skipMemory: boolean;
  readonly rounds: number;
  /**
   * The run lengths (-n), each run in every round, shortest first; undefined: calibrate each
   * target so that a run lasts about `runSeconds`.
   */
  readonly requests: readonly number[] | undefined;
  readonly runSeconds: number;
  readonly tests: readonly TestName[];
  readonly pipelines: readonly number[];
  readonly clients: number;
  readonly keyspace: number;
  readonly idleClients: number;
  readonly workersAuto: number;
  readonly out: string;
}

/** Runs shorter than this are noise on a shared machine: the README quotes none of them. */
export const README_MIN_SECONDS = 5;
const DEFAULT_SECONDS = 6;

/**
 * `--pipelined`: SET and GET at -P 16 in runs of about 1 s (400,000 requests through legate on
 * two quiet cores), of 2,000,000 (issue 16's length) and of 4,000,000 (≥ 5 s through legate).
 */
const PIPELINED = {
  tests: ['set', 'get'] as TestName[],
  pipelines: [16],
  requests: [400000, 2000000, 4000000],
  rounds: 3,
};

export const USAGE = `npm run bench -- redis [options]

Compares direct redis-server, nutcracker and legate (-w auto and -w 1) over the same three
shards with redis-benchmark, interleaved over several rounds; then holds idle connections to
each proxy to measure memory per client. Prints a markdown table; writes redis.json and SVG
charts under --out.

  --pipelined          the README's pipelined table (issue 16): --tests set,get --pipeline 16
                       -n ${PIPELINED.requests.join(',')} --rounds ${PIPELINED.rounds} --no-memory (6–9 minutes
                       on 2 cores)
  --rounds N           rounds of every test on every target (default 3)
  -n, --requests N,M   requests per redis-benchmark run; several values: every run length in
                       every round, reported side by side with the decay from shortest to
                       longest (default: calibrated per target so a run lasts --seconds)
  --seconds S          calibrated run length (default ${DEFAULT_SECONDS}); the README quotes only runs of ≥ ${README_MIN_SECONDS} s
  --tests a,b          of ${TEST_NAMES.join(',')} (default: all)
  --pipeline 1,16      redis-benchmark -P values (default 1,16)
  --clients N          redis-benchmark -c (default 50)
  --idle-clients N     idle connections per proxy in the memory section (default 9000)
  --memory             run only the memory section
  --no-memory          skip the memory section
  --quick              tiny sizes, one round, two tests: proves the harness works, measures
                       nothing
  --out DIR            where results go (default bench/results)
  -h, --help           this help
`;

export class SettingsError extends Error {}

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new SettingsError(`--${name} needs a positive number, got '${raw}'`);
  return n;
}

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
  const pipelined = v.pipelined === true;
  if (quick && pipelined) throw new SettingsError('--quick and --pipelined do not go together');
  if (v.memory === true && (v['no-memory'] === true || pipelined))
    throw new SettingsError(
      `--memory (only the memory section) and ${pipelined ? '--pipelined' : '--no-memory'} do not go together`,
    );
  const pipelines =
    v.pipeline !== undefined
      ? v.pipeline.split(',').map((p) => positiveInt('pipeline', p.trim(), 1))
      : pipelined
        ? PIPELINED.pipelines
        : [1, 16];
  const requests =
    v.requests !== undefined
      ? [...new Set(v.requests.split(',').map((n) => positiveInt('requests', n.trim(), 1)))].sort(
          (a, b) => a - b,
        )
      : quick
        ? [2000]
        : pipelined
          ? PIPELINED.requests
          : undefined;
  return {
    quick,
    memoryOnly: v.memory === true,
    skipMemory: v['no-memory'] === true || pipelined,
    rounds: positiveInt('rounds', v.rounds, quick ? 1 : pipelined ? PIPELINED.rounds : 3),
    requests,
    runSeconds: positiveNumber('seconds', v.seconds, DEFAULT_SECONDS),
    tests:
      v.tests !== undefined
        ? list('tests', v.tests, TEST_NAMES)
        : quick
          ? ['set', 'mget']
          : pipelined
            ? PIPELINED.tests
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
      pipelined: { type: 'boolean' },
      seconds: { type: 'string' },
      memory: { type: 'boolean' },
      'no-memory': { type: 'boolean' },
      tests: { type: 'string' },
      pipeline: { type: 'string' },
      clients: { type: 'string' },
      'idle-clients': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
