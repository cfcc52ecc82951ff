// Running redis-benchmark once and reading its --csv output.
import { spawn } from 'node:child_process';

/** One row of `redis-benchmark --csv`; latencies in milliseconds. */
export interface BenchmarkRow {
  readonly test: string;
  readonly rps: number;
  readonly avgMs: number;
  readonly minMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface BenchmarkRun {
  /** Exit code, or null when killed. */
  readonly code: number | null;
  readonly timedOut: boolean;
  readonly rows: readonly BenchmarkRow[];
  /** Lines that are neither CSV nor a known harmless notice: server errors, disconnects. */
  readonly problems: readonly string[];
  /** Harmless notices, e.g. that the target does not answer CONFIG GET (nutcracker). */
  readonly notices: readonly string[];
  readonly wallSeconds: number;
}

export interface BenchmarkOptions {
  readonly port: number;
  /** What to run: `['-t', 'set']`, or a custom command such as `['mget', 'key:__rand_int__']`. */
  readonly command: readonly string[];
  readonly requests: number;
  readonly pipeline: number;
  readonly clients: number;
  /** Keyspace for `__rand_int__` (-r). */
  readonly keyspace: number;
  readonly timeoutMs: number;
}

const HEADER = [
  'test',
  'rps',
  'avg_latency_ms',
  'min_latency_ms',
  'p50_latency_ms',
  'p95_latency_ms',
  'p99_latency_ms',
  'max_latency_ms',
];

/** Splits one CSV line with double-quoted fields ("" inside a field is a quote). */
export function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else value += line[i++];
      }
      fields.push(value);
      i++; // the comma
    } else {
      const end = line.indexOf(',', i);
      const stop = end === -1 ? line.length : end;
      fields.push(line.slice(i, stop));
      i = stop + 1;
    }
  }
  return fields;
}

/** The rows of redis-benchmark's --csv output, plus every other line, in order. */
export function parseBenchmarkOutput(text: string): { rows: BenchmarkRow[]; other: string[] } {
  const rows: BenchmarkRow[] = [];
  const other: string[] = [];
  let header: string[] | undefined;
  // Progress lines end in \r rather than \n; treat both as line ends.
  for (const raw of text.split(/\r?\n|\r/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (!line.startsWith('"')) {
      other.push(line);
      continue;
    }
    const fields = parseCsvLine(line);
    if (fields[0] === 'test') {
      header = fields;
      continue;
    }
    const cols = header ?? HEADER;
    const num = (name: string) => Number(fields[cols.indexOf(name)]);
    rows.push({
      test: fields[0],
      rps: num('rps'),
      avgMs: num('avg_latency_ms'),
      minMs: num('min_latency_ms'),
      p50Ms: num('p50_latency_ms'),
      p95Ms: num('p95_latency_ms'),
      p99Ms: num('p99_latency_ms'),
      maxMs: num('max_latency_ms'),
    });
  }
  return { rows, other };
}

// redis-benchmark asks CONFIG GET save/appendonly first; a proxy that refuses it only costs
// this warning, which says nothing about the run.
const HARMLESS = [/Could not fetch server CONFIG/i];

/** Runs redis-benchmark once against 127.0.0.1:port; never rejects for a failed run. */
export function runBenchmark(o: BenchmarkOptions): Promise<BenchmarkRun> {
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(o.port),
    '-c',
    String(o.clients),
    '-n',
    String(o.requests),
    '-P',
    String(o.pipeline),
    '-r',
    String(o.keyspace),
    '--csv',
    ...o.command,
  ];
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      const { rows, other } = parseBenchmarkOutput(out);
      const notices = other.filter((l) => HARMLESS.some((h) => h.test(l)));
      const problems = other.filter((l) => !HARMLESS.some((h) => h.test(l)));
      if (timedOut) problems.push(`killed after ${o.timeoutMs} ms`);
      else if (code !== 0) problems.push(`redis-benchmark exited with code ${code}`);
      else if (rows.length === 0) problems.push('no CSV row in the output');
      resolve({ code, timedOut, rows, problems, notices, wallSeconds });
    });
  });
}
