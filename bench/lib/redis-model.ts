// The Redis bench's vocabulary: its targets, tests, and the records each run leaves.
import type { BenchmarkRow } from './redis-benchmark.ts';
import type { TestName } from './settings.ts';

export type TargetId = 'direct' | 'nutcracker' | 'legate-auto' | 'legate-1';
export type ProxyId = Exclude<TargetId, 'direct'>;

export interface Target {
  readonly id: TargetId;
  readonly label: string;
  readonly port: number;
  readonly pid: number;
  /** legate's admin address, where /stats may answer. */
  readonly admin?: string;
  readonly statsPort?: number;
  /** Whether the process is still running. */
  alive(): boolean;
  /** How it ended ("signal SIGSEGV", "exit code 1"), once it has. */
  exitStatus(): string | undefined;
  /** Its log so far (empty for redis-server, which the bench runs with output ignored). */
  output(): string;
}

export interface TestSpec {
  readonly label: string;
  /** redis-benchmark's arguments after the common ones. */
  readonly command: readonly string[];
  /** Reads keys `key:__rand_int__`, which must exist for the reads to be real ones. */
  readonly reads: boolean;
}

const MGET_KEYS = 10;

export const TESTS: Record<TestName, TestSpec> = {
  set: { label: 'SET', command: ['-t', 'set'], reads: false },
  get: { label: 'GET', command: ['-t', 'get'], reads: true },
  incr: { label: 'INCR', command: ['-t', 'incr'], reads: false },
  lpush: { label: 'LPUSH', command: ['-t', 'lpush'], reads: false },
  mset: { label: 'MSET', command: ['-t', 'mset'], reads: false },
  // redis-benchmark has no MGET test; each __rand_int__ is replaced separately, so the ten keys
  // are ten random keys, spread over the shards as an application's would be.
  mget: {
    label: 'MGET',
    command: ['mget', ...Array.from({ length: MGET_KEYS }, () => 'key:__rand_int__')],
    reads: true,
  },
};

/** The order targets appear in tables and charts. */
export const TARGET_ORDER: readonly TargetId[] = [
  'direct',
  'nutcracker',
  'legate-auto',
  'legate-1',
];
export const PROXIES: readonly ProxyId[] = ['legate-auto', 'legate-1', 'nutcracker'];

export interface RunRecord {
  readonly round: number;
  readonly pipeline: number;
  readonly test: TestName;
  readonly target: TargetId;
  readonly requests: number;
  readonly row: BenchmarkRow | null;
  /** CPU seconds the target's own process used during the run (all its threads). */
  readonly cpuSeconds: number | null;
  /** CPU seconds the three shards used during the run (null for the direct target). */
  readonly shardCpuSeconds: number | null;
  readonly wallSeconds: number;
  /** The 1-minute load average when the run started and when it ended (noise on a shared box). */
  readonly loadBefore: number;
  readonly loadAfter: number;
  /** CPU time stolen by the hypervisor during the run, % of all the machine's CPU time. */
  readonly stealPercent: number;
  readonly problems: readonly string[];
  readonly notices: readonly string[];
}

export interface Summary {
  readonly pipeline: number;
  readonly test: TestName;
  /** The run length (-n) these runs share; null when calibrated per target (`--seconds`). */
  readonly requests: number | null;
  readonly target: TargetId;
  readonly runs: number;
  readonly okRuns: number;
  readonly rps: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Median duration of a run, as the bench timed it. */
  readonly secondsPerRun: number | null;
  readonly cpuSecondsPerRun: number | null;
  readonly cpuMicrosPerRequest: number | null;
  /** The three shards' CPU per request through this target (null for the direct redis). */
  readonly shardCpuMicrosPerRequest: number | null;
  /** Median over rounds of this target's rps / nutcracker's rps in the same round. */
  readonly vsNutcracker: number | null;
  /** Median over rounds of this target's rps / direct redis's rps in the same round. */
  readonly vsDirect: number | null;
}

export interface MemoryResult {
  readonly target: TargetId;
  readonly label: string;
  readonly requested: number;
  readonly attempted: number;
  readonly opened: number;
  readonly limitNote: string | null;
  readonly rssBeforeKb: number;
  /** With the first quarter of the clients open. */
  readonly rssQuarterKb: number;
  readonly rssWithClientsKb: number;
  readonly rssAfterCloseKb: number;
  /** (with all − before) ÷ all. */
  readonly growthKbPerClient: number | null;
  /** (with all − with a quarter) ÷ the other three quarters. */
  readonly marginalKbPerClient: number | null;
  readonly openSeconds: number;
  readonly failures: readonly string[];
  /** The fresh instance's warning and error log lines. */
  readonly logProblems: readonly string[];
}

/** Resident memory of the throughput section's processes, when started and when done. */
export interface Footprint {
  readonly target: TargetId;
  readonly label: string;
  readonly rssAtStartKb: number | null;
  readonly rssAfterThroughputKb: number | null;
}

export interface Goal {
  readonly goal: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | null;
}
