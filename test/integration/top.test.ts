// `legate top` as a person sees it: run in tmux against a live legate under load, the pane
// captured as text; then `--once` for scripts, Ctrl-C, and an admin server that is not there.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getStats, poolOf } from '../helpers/admin.ts';
import { keysOnDistinctShards } from '../helpers/keys.ts';
import {
  freePort,
  LEGATE_BIN,
  NODE,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  runLegate,
  startLegate,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

const POOL = 'orders';
const ESC = '\u001b';
const LOAD_CLIENTS = 3;

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let config: { file: string; cleanup(): void };
let admin: number;
let servers: string[] = [];
/** The load's own count of replies and when it started, for judging top's ops/s. */
let replies = 0;
let loadStarted = 0;
let stopLoad = false;
let load: Promise<void>;

before(async () => {
  shards = await startShards(3);
  const port = await freePort();
  config = writeConfig(poolYaml({ name: POOL, port, shards: shards.map((s) => s.port) }));
  const keys = await keysOnDistinctShards(config.file, 'top:', 3);
  servers = keys.map((k) => `127.0.0.1:${k.port}`);
  legate = await startLegate(['-c', config.file, '-w', '2', '-i', '200']);
  admin = legate.adminPort ?? 0;
  // A steady load on every shard until the tests end (bounded by `stopLoad`, set in `after`).
  const clients = await Promise.all(
    Array.from({ length: LOAD_CLIENTS }, () => RawClient.connect(port)),
  );
  loadStarted = performance.now();
  load = Promise.all(
    clients.map(async (c, i) => {
      const deadline = Date.now() + 60_000;
      for (let n = 0; !stopLoad && Date.now() < deadline; n++) {
        await c.command('SET', keys[(n + i) % keys.length].key, 'v');
        replies++;
        if (n % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      c.close();
    }),
  ).then(() => undefined);
});

after(async () => {
  stopLoad = true;
  await load;
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
});

/** The client-side request rate since the load began. */
function loadRate(): number {
  return replies / ((performance.now() - loadStarted) / 1000);
}

interface Row {
  readonly name: string;
  readonly ops: number;
  readonly errors: number;
  readonly p50: string;
  readonly p99: string;
  readonly max: string;
  readonly conns: number;
  readonly state: string;
}

/** The table rows of a frame, by name (servers without their indent). */
function rows(frame: string): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const line of frame.split('\n')) {
    const m =
      /^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(live|EJECTED|\d+\/\d+ live)$/.exec(
        line,
      );
    if (m === null) continue;
    out.set(m[1], {
      name: m[1],
      ops: Number(m[2]),
      errors: Number(m[3]),
      p50: m[4],
      p99: m[5],
      max: m[6],
      conns: Number(m[7]),
      state: m[8],
    });
  }
  return out;
}

/** The frame shows the pool and its servers, each busy, at a rate near what the load sends. */
function assertPlausible(frame: string): void {
  assert.match(
    frame,
    /^legate \d+\.\d+\.\d+ {2}up \d+h\d\dm\d\ds {2}workers 2\/2 {2}admin 127\.0\.0\.1:\d+$/m,
  );
  assert.match(
    frame,
    /^POOL \/ SERVER\s+OPS\/S\s+ERR\/S\s+P50ms\s+P99ms\s+MAXms\s+CONNS\s+STATE$/m,
  );
  const table = rows(frame);
  const pool = table.get(POOL);
  assert.ok(pool, `the pool's row in:\n${frame}`);
  assert.equal(pool.state, '3/3 live');
  assert.equal(pool.errors, 0);
  assert.equal(pool.conns, LOAD_CLIENTS, 'the load clients');
  const rate = loadRate();
  assert.ok(
    pool.ops > rate / 3 && pool.ops < rate * 3,
    `pool ops/s ${pool.ops} near the load's ${rate.toFixed(0)}/s:\n${frame}`,
  );
  for (const field of [pool.p50, pool.p99, pool.max]) assert.ok(Number(field) > 0, field);
  assert.ok(Number(pool.p50) <= Number(pool.p99) && Number(pool.p99) <= Number(pool.max));
  let sum = 0;
  for (const s of servers) {
    const row = table.get(s);
    assert.ok(row, `server ${s}'s row in:\n${frame}`);
    assert.equal(row.state, 'live');
    assert.ok(row.ops > 0, `${s} busy: ${row.ops}`);
    assert.ok(row.conns >= 1 && row.conns <= 2, 'one connection per worker at most');
    sum += row.ops;
  }
  // Only single-key SETs: the servers' rates add up to the pool's (each rounded for display).
  assert.ok(Math.abs(sum - pool.ops) <= Math.max(3, pool.ops * 0.02), `${sum} vs ${pool.ops}`);
}

async function waitForLoadInStats(): Promise<void> {
  const deadline = Date.now() + 8000;
  while (poolOf(await getStats(admin), POOL).requests < 500) {
    assert.ok(Date.now() < deadline, 'the load reached legate');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const tmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).error === undefined;

/** Runs tmux with no standard input (it reads none), resolving with its exit code and output. */
function tmuxCommand(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('tmux', args, { timeout: 10000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('legate top', () => {
  test('under tmux: redraws the table with the pool, its servers and their rates; Ctrl-C exits 0', {
    skip: tmux ? false : 'tmux is not installed (Debian package tmux)',
  }, async () => {
    await waitForLoadInStats();
    // A tmux server of our own, so the test touches no one else's sessions, on a socket in a
    // directory removed afterwards (kill-server leaves the socket file behind).
    const dir = mkdtempSync(join(tmpdir(), 'legate-top-tmux-'));
    const tm = (...args: string[]) => tmuxCommand(['-S', join(dir, 'socket'), ...args]);
    const command = `'${NODE}' '${LEGATE_BIN}' top --admin 127.0.0.1:${admin} --interval 300; echo "top-exit=$?"; sleep 30`;
    const started = await tm(
      'new-session',
      '-d',
      '-s',
      'top',
      '-x',
      '110',
      '-y',
      '30',
      // bash, not sh: bash goes on after a child that handled Ctrl-C and exited by itself.
      'bash',
      '-c',
      command,
    );
    assert.equal(started.code, 0, started.stderr);
    try {
      const capture = async () => (await tm('capture-pane', '-p', '-t', 'top')).stdout;
      // Two redraws at least: the first frame has no rates yet.
      let frame = '';
      const deadline = Date.now() + 10000;
      for (;;) {
        frame = await capture();
        const pool = rows(frame).get(POOL);
        if (pool !== undefined && pool.ops > 0 && servers.every((s) => rows(frame).has(s))) break;
        assert.ok(Date.now() < deadline, `top never showed rates:\n${frame}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Let it redraw more, then judge a settled frame.
      await new Promise((r) => setTimeout(r, 700));
      frame = await capture();
      assertPlausible(frame);

      assert.equal((await tm('send-keys', '-t', 'top', 'C-c')).code, 0);
      const exitDeadline = Date.now() + 5000;
      while (!/top-exit=/.test(await capture())) {
        assert.ok(Date.now() < exitDeadline, 'top exited on Ctrl-C');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(await capture(), /top-exit=0/);
    } finally {
      await tm('kill-server');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--once prints one plain frame with rates and exits 0', async () => {
    await waitForLoadInStats();
    const r = await runLegate(
      ['top', '--admin', `127.0.0.1:${admin}`, '--once', '--interval', '500'],
      {
        timeoutMs: 10000,
      },
    );
    const frame = r.stdout.toString();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(!frame.includes(ESC), 'no terminal control codes');
    assertPlausible(frame);
  });

  test('an admin server that is not there: a clear error, exit 1', async () => {
    // Port 1 on loopback: nothing listens there, and no port-0 bind can take it.
    const nowhere = 1;
    const r = await runLegate(['top', '--admin', `127.0.0.1:${nowhere}`, '--once'], {
      timeoutMs: 10000,
    });
    assert.equal(r.code, 1);
    assert.equal(r.stdout.toString(), '');
    assert.match(
      r.stderr,
      new RegExp(
        `^legate: cannot reach the admin server at http://127\\.0\\.0\\.1:${nowhere}/stats: ECONNREFUSED \\(is legate running\\? .*--admin HOST:PORT or LEGATE_ADMIN\\)\\n$`,
      ),
    );
    const bad = await runLegate(['top', '--admin', 'nonsense']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--admin must be host:port/);
  });
});
