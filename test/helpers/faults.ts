// What the fault tests share: the admin endpoint, the legate process's memory, waiting on its
// log, keys on a chosen shard, a checked workload that tells wrong replies from errors, and
// holding a worker's reload.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptsConnections } from '../../engine/cli/redis-process.ts';
import { locate, portOf } from './keys.ts';
import type { RunningProcess } from './processes.ts';
import { encode, RawClient } from './resp.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** GET http://127.0.0.1:port/path. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface ServerStats {
  name: string;
  ejected: boolean;
  ejects: number;
  server_timedout: number;
  [counter: string]: unknown;
}

/** The /stats JSON of one pool's servers. */
export async function serverStats(adminPort: number, pool: string): Promise<ServerStats[]> {
  const r = await httpGet(adminPort, '/stats');
  assert.equal(r.status, 200, r.body);
  const stats = JSON.parse(r.body) as { pools: { name: string; servers: ServerStats[] }[] };
  const found = stats.pools.find((p) => p.name === pool);
  assert.ok(found, `pool ${pool} in /stats`);
  return found.servers;
}

/** Resident memory of a process, in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  assert.ok(m, 'VmRSS in /proc/PID/status');
  return Number(m[1]) * 1024;
}

/** Polls `check` every 25 ms until it holds; fails with `what` after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** Waits until the process's output (from `from` on) matches; returns the matching text. */
export async function waitForLog(
  proc: RunningProcess,
  pattern: RegExp,
  timeoutMs: number,
  from = 0,
): Promise<string> {
  let match = '';
  await until(
    () => {
      const m = pattern.exec(proc.output().slice(from));
      if (m) match = m[0];
      return m !== null;
    },
    timeoutMs,
    `log line ${pattern}`,
  );
  return match;
}

/** Whether a TCP connection to 127.0.0.1:port is accepted now. */
export const accepts = acceptsConnections;

/** `count` keys starting with `prefix` that the config's ring puts on the server at `port`. */
export async function keysOn(
  configFile: string,
  prefix: string,
  count: number,
  port: number,
  pool?: string,
): Promise<string[]> {
  const candidates = Array.from(
    { length: count * 20 },
    (_, i) => `${prefix}${i}.${Math.imul(i + 7, 2654435761) >>> 0}`,
  );
  const where = await locate(configFile, candidates, pool);
  const picked = [...where].filter(([, s]) => portOf(s) === port).map(([k]) => k);
  assert.ok(picked.length >= count, `found ${count} keys on port ${port}`);
  return picked.slice(0, count);
}

/** The worker a connection landed on: legate's CLIENT ID is unique per worker modulo the count. */
export async function workerOf(c: RawClient, workers: number): Promise<number> {
  const id = await c.call('CLIENT', 'ID');
  assert.equal(typeof id, 'number');
  return (id as number) % workers;
}

/**
 * Waits until connections to a Redis pool's `port` have landed on every one of `workers` workers
 * (the kernel spreads them over the listeners): each of them listens there. Fails after `timeoutMs`.
 */
export async function everyWorkerServes(
  port: number,
  workers: number,
  timeoutMs: number,
): Promise<void> {
  const seen = new Set<number>();
  await until(
    async () => {
      const c = await RawClient.connect(port).catch(() => null);
      if (c !== null) {
        seen.add(await workerOf(c, workers));
        c.close();
      }
      return seen.size === workers;
    },
    timeoutMs,
    `all ${workers} workers serving port ${port}`,
  );
}

/**
 * What a checked operation sends and the one reply it must get. `setget`: SET then GET of a key
 * of the client's own (checks the value made the round trip through the right shard); `incrby`:
 * INCRBY of a fresh key by a number of its own (the reply is that number wherever the ring puts
 * the key, so it stays checkable while a reload moves keys).
 */
export type CheckedOp = 'setget' | 'incrby';

export interface ClientResult {
  worker: number;
  ok: number;
  /** Error replies and connection failures, each described. */
  errors: string[];
  /** Replies that are not errors but not the expected bytes either: never acceptable. */
  wrong: string[];
}

export interface LoadResult {
  clients: ClientResult[];
  ok: number;
  errors: string[];
  wrong: string[];
  /** Round-trip times of each pipelined batch, ms, sorted. */
  latencies: number[];
}

/** A percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Many connections, each sending pipelined batches of checked operations until stopped. A client
 * whose connection fails records it and stops; every reply is compared byte for byte.
 */
export class CheckedLoad {
  readonly #port: number;
  readonly #clients: number;
  readonly #depth: number;
  readonly #prefix: string;
  readonly #op: CheckedOp;
  readonly #workers: number;
  readonly #pauseMs: number;
  #stopped = false;
  #loops: Promise<void>[] = [];
  readonly results: ClientResult[] = [];
  readonly #latencies: number[] = [];

  constructor(options: {
    port: number;
    clients: number;
    depth: number;
    prefix: string;
    op?: CheckedOp;
    workers?: number;
    /** Pause between batches, so a load is steady rather than all the machine can give. */
    pauseMs?: number;
  }) {
    this.#port = options.port;
    this.#clients = options.clients;
    this.#depth = options.depth;
    this.#prefix = options.prefix;
    this.#op = options.op ?? 'setget';
    this.#workers = options.workers ?? 1;
    this.#pauseMs = options.pauseMs ?? 0;
  }

  /** Connects every client and starts their loops; resolves once all have had a first reply. */
  async start(): Promise<void> {
    const conns = await Promise.all(
      Array.from({ length: this.#clients }, () => RawClient.connect(this.#port)),
    );
    for (const [i, c] of conns.entries()) {
      const result: ClientResult = {
        worker: await workerOf(c, this.#workers),
        ok: 0,
        errors: [],
        wrong: [],
      };
      this.results.push(result);
      this.#loops.push(this.#loop(c, i, result));
    }
  }

  /** Total checked replies so far. */
  get ok(): number {
    return this.results.reduce((n, r) => n + r.ok, 0);
  }

  async stop(): Promise<LoadResult> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    return {
      clients: this.results,
      ok: this.ok,
      errors: this.results.flatMap((r) => r.errors),
      wrong: this.results.flatMap((r) => r.wrong),
      latencies: [...this.#latencies].sort((a, b) => a - b),
    };
  }

  async #loop(c: RawClient, client: number, result: ClientResult): Promise<void> {
    let seq = 0;
    try {
      while (!this.#stopped) {
        const requests: Buffer[] = [];
        const expected: string[] = [];
        for (let i = 0; i < this.#depth; i++) {
          const n = seq++;
          const key = `${this.#prefix}:${client}:${n}`;
          if (this.#op === 'setget') {
            const value = `v${client}.${n}.${'x'.repeat(n % 50)}`;
            requests.push(encode('SET', key, value), encode('GET', key));
            expected.push('+OK\r\n', `$${value.length}\r\n${value}\r\n`);
          } else {
            const by = (client * 1000003 + n) % 1000000007;
            requests.push(encode('INCRBY', key, by));
            expected.push(`:${by}\r\n`);
          }
        }
        const started = performance.now();
        c.write(Buffer.concat(requests));
        let replies: Buffer[];
        try {
          replies = await c.read(expected.length, 10000);
        } catch (err) {
          result.errors.push(`client ${client}: ${(err as Error).message}`);
          return;
        }
        this.#latencies.push(performance.now() - started);
        for (let i = 0; i < replies.length; i++) {
          const got = replies[i].toString('latin1');
          if (got === expected[i]) result.ok++;
          else if (got.startsWith('-')) result.errors.push(`client ${client}: ${got.trim()}`);
          else result.wrong.push(`client ${client}: expected ${expected[i]}, got ${got}`);
        }
        if (this.#pauseMs > 0) await sleep(this.#pauseMs);
      }
    } finally {
      c.close();
    }
  }
}

/**
 * legate's LEGATE_TEST_HOLD_RELOAD hook for one worker: while held, that worker takes no reload
 * up (nor answers it), so that a test can act while a reload is pending.
 */
export class ReloadHold {
  readonly #dir = mkdtempSync(join(tmpdir(), 'legate-hold-'));
  readonly #file = join(this.#dir, 'hold');
  readonly #worker: number;

  constructor(worker: number) {
    this.#worker = worker;
  }

  /** What legate's environment needs for the hook. */
  get env(): NodeJS.ProcessEnv {
    return { LEGATE_TEST_HOOKS: '1', LEGATE_TEST_HOLD_RELOAD: `${this.#worker}:${this.#file}` };
  }

  hold(): void {
    writeFileSync(this.#file, '');
  }

  release(): void {
    rmSync(this.#file, { force: true });
  }

  cleanup(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
