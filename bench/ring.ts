// Micro-benchmark of the data plane's routing step: hash a key in place, then look the hash up
// in a pool's shared ring (KeyLocator over a RingReader), one thread. Also times the two halves
// apart (hash alone, ring lookup alone on precomputed hashes) so a slow total says where it is.
//
//   node_modules/.bin/node bench/ring.ts [--rounds=5] [--round-ms=500] [--keys=65536]

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseConfig } from '../engine/config/load.ts';
import type { RedisPoolConfig } from '../engine/config/types.ts';
import { hashFunction } from '../engine/hash/index.ts';
import type { HashName } from '../engine/hash/types.ts';
import { KeyLocator } from '../engine/ring/key-locator.ts';
import { PoolRing } from '../engine/ring/pool-ring.ts';
import { RingReader } from '../engine/shared/ring-memory.ts';

interface Options {
  readonly rounds: number;
  readonly roundMs: number;
  readonly keys: number;
}

function parseOptions(args: readonly string[]): Options {
  const options = { rounds: 5, roundMs: 500, keys: 65536 };
  for (const arg of args) {
    const m = /^--(rounds|round-ms|keys)=(\d+)$/.exec(arg);
    if (!m)
      throw new Error(`bench ring: unknown argument '${arg}' (--rounds=N --round-ms=N --keys=N)`);
    const n = Number(m[2]);
    if (!(n >= 1)) throw new Error(`bench ring: ${m[1]} must be at least 1`);
    if (m[1] === 'rounds') options.rounds = n;
    else if (m[1] === 'round-ms') options.roundMs = n;
    else options.keys = n;
  }
  return options;
}

/** Keys of 8–64 random bytes laid end to end in one buffer, as they lie in a request buffer. */
interface KeySet {
  readonly bytes: Uint8Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

function makeKeys(count: number): KeySet {
  // xorshift32, seeded: every run measures the same keys.
  let s = 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const lengths = Array.from({ length: count }, () => 8 + (next() % 57));
  const total = lengths.reduce((a, b) => a + b, 0);
  const bytes = new Uint8Array(total);
  for (let i = 0; i < total; i++) bytes[i] = next() & 0xff;
  const starts = new Uint32Array(count);
  const ends = new Uint32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    at += lengths[i];
    ends[i] = at;
  }
  return { bytes, starts, ends };
}

function pool(hash: HashName, distribution: string, servers: number): RedisPoolConfig {
  const text = [
    'bench:',
    '  listen: 127.0.0.1:22121',
    '  redis: true',
    `  hash: ${hash}`,
    `  distribution: ${distribution}`,
    '  servers:',
    ...Array.from({ length: servers }, (_, i) => `    - 127.0.0.1:${7000 + i}:1`),
    '',
  ].join('\n');
  return parseConfig(text, '(bench ring)', {}).redis[0];
}

/** Ops per second of `pass` (which does `perPass` operations) over one round of about `ms`. */
function round(pass: () => number, perPass: number, ms: number): { rate: number; sink: number } {
  let ops = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  // Bounded: stops at the time budget, checked after every whole pass over the key set.
  while (elapsed < budget) {
    sink = (sink + pass()) | 0;
    ops += perPass;
    elapsed = process.hrtime.bigint() - start;
  }
  return { rate: ops / (Number(elapsed) / 1e9), sink };
}

interface Measured {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function measure(pass: () => number, perPass: number, options: Options): Measured {
  round(pass, perPass, Math.min(200, options.roundMs)); // warm-up: let the JIT settle
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < options.rounds; r++) {
    const result = round(pass, perPass, options.roundMs);
    rates.push(result.rate);
    sink ^= result.sink;
  }
  // The sink is printed nowhere but read here, so the lookups cannot be optimised away.
  if (sink === 0x7fffffff) process.stderr.write('');
  rates.sort((a, b) => a - b);
  return {
    median: rates[Math.floor(rates.length / 2)],
    min: rates[0],
    max: rates[rates.length - 1],
  };
}

type Step = 'hash + ring' | 'hash only' | 'ring only';

interface Case {
  readonly step: Step;
  readonly hash: HashName;
  readonly distribution: 'ketama' | 'modula';
  readonly servers: number;
}

const CASES: readonly Case[] = [
  { step: 'hash + ring', hash: 'fnv1a_64', distribution: 'ketama', servers: 3 },
  { step: 'hash + ring', hash: 'fnv1a_64', distribution: 'ketama', servers: 12 },
  { step: 'hash + ring', hash: 'fnv1a_64', distribution: 'modula', servers: 3 },
  { step: 'hash + ring', hash: 'md5', distribution: 'ketama', servers: 3 },
  { step: 'hash + ring', hash: 'murmur', distribution: 'ketama', servers: 3 },
  // The halves of the default, to tell where a lookup's time goes.
  { step: 'hash only', hash: 'fnv1a_64', distribution: 'ketama', servers: 3 },
  { step: 'ring only', hash: 'fnv1a_64', distribution: 'ketama', servers: 3 },
];

/** One case, in the thread that calls it. */
function runCase(c: Case, options: Options): Measured {
  const { bytes, starts, ends } = makeKeys(options.keys);
  const n = starts.length;
  const p = pool(c.hash, c.distribution, c.servers);
  const reader = new RingReader(new PoolRing(p).sab);
  if (c.step === 'hash + ring') {
    const locator = new KeyLocator(p, reader);
    return measure(
      () => {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += locator.locate(bytes, starts[i], ends[i]);
        return acc;
      },
      n,
      options,
    );
  }
  const hash = hashFunction(c.hash);
  if (c.step === 'hash only') {
    return measure(
      () => {
        let acc = 0;
        for (let i = 0; i < n; i++) acc ^= hash(bytes, starts[i], ends[i]);
        return acc;
      },
      n,
      options,
    );
  }
  const hashes = new Uint32Array(n);
  for (let i = 0; i < n; i++) hashes[i] = hash(bytes, starts[i], ends[i]);
  return measure(
    () => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += reader.serverFor(hashes[i]);
      return acc;
    },
    n,
    options,
  );
}

/**
 * Each case runs in a fresh worker thread: V8's type feedback from one case (another hash
 * function at the same call site, say) would otherwise slow the cases measured after it.
 */
function inWorker(c: Case, options: Options): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { benchRingCase: c, options },
    });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0)
        reject(new Error(`bench ring: worker for ${JSON.stringify(c)} exited ${code}`));
    });
  });
}

function millions(n: number): string {
  return `${(n / 1e6).toFixed(2)} M/s`;
}

export async function main(args: readonly string[]): Promise<number> {
  const options = parseOptions(args);
  const rows: { c: Case; result: Measured }[] = [];
  // One at a time: concurrent cases would share cores and measure each other.
  for (const c of CASES) rows.push({ c, result: await inWorker(c, options) });

  const { bytes, starts } = makeKeys(options.keys);
  const meanLength = (bytes.length / starts.length).toFixed(1);
  const out = [
    `## Ring lookups per second, one thread (Node ${process.versions.node}, ${process.arch})`,
    '',
    `${starts.length} keys of 8–64 random bytes (mean ${meanLength}) in one buffer; ` +
      `median of ${options.rounds} rounds of ${options.roundMs} ms (min–max); each row in a fresh thread.`,
    '',
    '| step | hash | distribution | servers | lookups/s | ns/lookup | min–max |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ({ c, result: r }) =>
        `| ${c.step} | ${c.hash} | ${c.step === 'hash only' ? '-' : c.distribution} | ` +
        `${c.step === 'hash only' ? '-' : c.servers} | ${millions(r.median)} | ` +
        `${(1e9 / r.median).toFixed(1)} | ${millions(r.min)}–${millions(r.max)} |`,
    ),
    '',
  ];
  process.stdout.write(out.join('\n'));
  return 0;
}

const job = workerData as { benchRingCase?: Case; options?: Options } | null;
if (!isMainThread && job?.benchRingCase && job.options) {
  parentPort?.postMessage(runCase(job.benchRingCase, job.options));
} else if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
