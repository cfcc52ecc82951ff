// Numbers across reloads and a worker restart, under load: /stats never answers 500, every
// counter of a server that stays (and of the pool) never goes down, the recent window is never
// negative or garbage, Prometheus counters never decrease, and a removed server stops being
// reported. The recipe of issue 15, at a bounded scale.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import type { LatencyJson } from '../../engine/admin/admin-server.ts';
import { GAUGES } from '../../engine/metrics/snapshot.ts';
import { httpGet, parsePrometheus, type StatsJson } from '../helpers/admin.ts';
import { sleep, waitForLog } from '../helpers/faults.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  run,
  startLegate,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

let shards: RedisProcess[];
let config: { file: string; cleanup(): void };
let legate: RunningProcess;
let port: number;

const configText = (timeout: number, shardCount: number) =>
  poolYaml({
    port,
    shards: shards.slice(0, shardCount).map((s) => s.port),
    extra: { timeout },
  });

before(async () => {
  shards = await startShards(3);
  port = await freePort();
  config = writeConfig(configText(400, 3));
  legate = await startLegate(['-c', config.file, '-w', '2', '-i', '200'], {
    LEGATE_TEST_HOOKS: '1',
  });
});

after(async () => {
  await legate?.stop();
  await stopAll(shards ?? []);
  config?.cleanup();
});

/** Clients doing SET and 10-key MGET in a loop until stopped. */
async function loop(id: number, stop: { now: boolean }, errors: string[]): Promise<number> {
  let done = 0;
  let c = await RawClient.connect(port);
  for (let i = 0; !stop.now; i++) {
    const keys = Array.from({ length: 10 }, (_, k) => `rm:${id}:${(i + k) % 50}`);
    try {
      await c.call('SET', keys[0], `v${i}`);
      const got = await c.call('MGET', ...keys);
      if (!Array.isArray(got) || got.length !== 10) errors.push(`MGET answered ${String(got)}`);
      done++;
    } catch {
      // A worker restart closes its clients' connections: reconnect and go on.
      c.close();
      c = await RawClient.connect(port);
    }
  }
  c.close();
  return done;
}

/** What the polls found wrong, and how many there were. */
interface PollFindings {
  polls: number;
  problems: string[];
  lastMetrics: string;
  /** Server names reported in each /stats document, in poll order. */
  servers: string[][];
}

/** Fields of /stats that may go down: the gauges, and what is not a count. */
const NON_COUNTERS = new Set([
  ...GAUGES,
  'ejected',
  'ejected_at',
  'updated_at_ms',
  'recent_window_s',
]);

function checkLatency(where: string, l: LatencyJson, problems: string[]): void {
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isFinite(v) || v < 0) problems.push(`${where}.${k} = ${v}`);
  }
  if (l.p50 > l.max) problems.push(`${where}: p50 ${l.p50} > max ${l.max}`);
  if (l.count > 0 && l.max === 0) problems.push(`${where}: count ${l.count} with max 0`);
}

/** Checks one /stats document against the previous: counters never down, latency sane. */
function checkStats(s: StatsJson, prev: Map<string, number>, problems: string[]): void {
  const seen = (key: string, v: unknown) => {
    if (typeof v !== 'number') return;
    const before = prev.get(key);
    if (before !== undefined && v < before) problems.push(`${key} went ${before} → ${v}`);
    prev.set(key, v);
  };
  for (const p of s.pools) {
    for (const [k, v] of Object.entries(p)) if (!NON_COUNTERS.has(k)) seen(`pool.${k}`, v);
    seen('pool.latency.count', p.latency_us.count);
    checkLatency('pool.latency_us', p.latency_us, problems);
    checkLatency('pool.recent_latency_us', p.recent_latency_us, problems);
    if (p.recent_latency_us.count > p.latency_us.count)
      problems.push(`pool recent count ${p.recent_latency_us.count} > ${p.latency_us.count}`);
    for (const sv of p.servers) {
      for (const [k, v] of Object.entries(sv)) if (!NON_COUNTERS.has(k)) seen(`${sv.name}.${k}`, v);
      seen(`${sv.name}.latency.count`, sv.latency_us.count);
      checkLatency(`${sv.name}.latency_us`, sv.latency_us, problems);
      checkLatency(`${sv.name}.recent_latency_us`, sv.recent_latency_us, problems);
      if (sv.recent_latency_us.count > sv.latency_us.count)
        problems.push(`${sv.name} recent count ${sv.recent_latency_us.count} > since start`);
    }
  }
}

/** Checks one /metrics page against the previous: counter and histogram series never down. */
function checkMetrics(text: string, prev: Map<string, number>, problems: string[]): void {
  for (const s of parsePrometheus(text)) {
    if (!/_total$|_bucket$|_count$|_sum$/.test(s.name)) continue;
    const key = `${s.name}${JSON.stringify(s.labels)}`;
    const before = prev.get(key);
    if (before !== undefined && s.value < before)
      problems.push(`${key} went ${before} → ${s.value}`);
    prev.set(key, s.value);
  }
}

/** Polls /stats and /metrics every 20 ms until stopped. */
async function poll(stop: { now: boolean }): Promise<PollFindings> {
  const admin = legate.adminPort ?? 0;
  const found: PollFindings = { polls: 0, problems: [], lastMetrics: '', servers: [] };
  const stats = new Map<string, number>();
  const metrics = new Map<string, number>();
  while (!stop.now) {
    const [s, m] = await Promise.all([httpGet(admin, '/stats'), httpGet(admin, '/metrics')]);
    found.polls++;
    if (s.status !== 200) found.problems.push(`/stats answered ${s.status}: ${s.body.trim()}`);
    else {
      const doc = JSON.parse(s.body) as StatsJson;
      found.servers.push(doc.pools[0].servers.map((x) => x.name));
      checkStats(doc, stats, found.problems);
    }
    if (m.status !== 200) found.problems.push(`/metrics answered ${m.status}: ${m.body.trim()}`);
    else {
      checkMetrics(m.body, metrics, found.problems);
      found.lastMetrics = m.body;
    }
    await sleep(20);
  }
  return found;
}

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;

it('reloads, a removed server and a worker restart under load: numbers stay monotonic and sane', async () => {
  const stop = { now: false };
  const errors: string[] = [];
  const clients = Array.from({ length: 6 }, (_, i) => loop(i, stop, errors));
  const polling = poll(stop);
  await sleep(800);
  // Reloads that change only the timeout.
  for (let i = 1; i <= 5; i++) {
    const from = legate.output().length;
    writeFileSync(config.file, configText(400 + i * 10, 3));
    process.kill(legate.child.pid ?? 0, 'SIGHUP');
    await waitForLog(legate, /"msg":"config reloaded/, 5000, from);
    await sleep(600);
  }
  // A reload that removes the third server.
  const removed = `127.0.0.1:${shards[2].port}`;
  let from = legate.output().length;
  writeFileSync(config.file, configText(500, 2));
  process.kill(legate.child.pid ?? 0, 'SIGHUP');
  await waitForLog(legate, /"msg":"config reloaded/, 5000, from);
  await sleep(800);
  // A worker dies and is restarted.
  from = legate.output().length;
  process.kill(legate.child.pid ?? 0, 'SIGUSR2');
  await waitForLog(legate, /"msg":"worker 0 restarted"/, 5000, from);
  await sleep(1200);
  stop.now = true;
  const done = await Promise.all(clients);
  const found = await polling;

  assert.deepEqual(errors, []);
  assert.ok(
    done.every((n) => n > 0),
    `every client did work: ${done}`,
  );
  assert.ok(found.polls > 50, `polled ${found.polls} times`);
  assert.deepEqual(found.problems.slice(0, 20), [], `${found.problems.length} problems`);
  const last = found.servers[found.servers.length - 1];
  assert.equal(last.length, 2);
  assert.ok(!last.includes(removed), 'the removed server is no longer reported');
  assert.ok(!found.lastMetrics.includes(`server="${removed}"`), 'nor in /metrics');
  if (promtool) {
    const r = await run('promtool', ['check', 'metrics'], { input: found.lastMetrics });
    assert.equal(r.code, 0, r.stderr);
  }
});
