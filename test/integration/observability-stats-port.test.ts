// The twemproxy stats port: on connect one JSON document, then the server closes. Every field
// nutcracker's carries, for every pool and server, named as nutcracker names them (checked
// against the real nutcracker on the same shards), with values that fit the load sent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getStats, poolOf, readStatsPort, serverOf } from '../helpers/admin.ts';
import { keysOnDistinctShards } from '../helpers/keys.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startNutcracker,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

const TOP_FIELDS = [
  'service',
  'source',
  'version',
  'uptime',
  'timestamp',
  'total_connections',
  'curr_connections',
];
const POOL_FIELDS = [
  'client_eof',
  'client_err',
  'client_connections',
  'server_ejects',
  'forward_error',
  'fragments',
];
const SERVER_FIELDS = [
  'server_eof',
  'server_err',
  'server_timedout',
  'server_connections',
  'server_ejected_at',
  'requests',
  'request_bytes',
  'responses',
  'response_bytes',
  'in_queue',
  'in_queue_bytes',
  'out_queue',
  'out_queue_bytes',
];
const SETS_PER_KEY = 20;

type Doc = Record<string, unknown>;

let shards: RedisProcess[] = [];
const files: { file: string; cleanup(): void }[] = [];
let legate: RunningProcess | undefined;
let nutcracker: RunningProcess | undefined;

before(async () => {
  shards = await startShards(3);
});

after(async () => {
  await legate?.stop();
  await nutcracker?.stop();
  await stopAll(shards);
  for (const f of files) f.cleanup();
});

/** Two pools over the shards: `web` on all three, `jobs` on the last two. */
async function twoPools(): Promise<{ file: string; ports: Record<string, number> }> {
  const ports = { web: await freePort(), jobs: await freePort() };
  const config = writeConfig(
    poolYaml({ name: 'web', port: ports.web, shards: shards.map((s) => s.port) }) +
      poolYaml({ name: 'jobs', port: ports.jobs, shards: shards.slice(1).map((s) => s.port) }),
  );
  files.push(config);
  return { file: config.file, ports };
}

/**
 * The same load for either proxy: SETs of one key per shard, then one MGET across them (split
 * in parts by both proxies). Returns the keys used per pool.
 */
async function load(file: string, ports: Record<string, number>): Promise<void> {
  for (const [pool, count] of [
    ['web', 3],
    ['jobs', 2],
  ] as const) {
    const keys = await keysOnDistinctShards(file, `stats:${pool}:`, count, pool);
    const c = await RawClient.connect(ports[pool]);
    for (const k of keys)
      for (let i = 0; i < SETS_PER_KEY; i++) await c.command('SET', k.key, `v${i}`);
    const mget = await c.call('MGET', ...keys.map((k) => k.key));
    assert.ok(Array.isArray(mget) && mget.length === count, `MGET answered: ${mget}`);
    c.close();
  }
}

/** Reads the stats port; checks it sent exactly one JSON line and closed. */
async function statsDocument(port: number): Promise<Doc> {
  const text = await readStatsPort(port);
  assert.ok(text.endsWith('\n'), 'the document ends with a newline');
  assert.equal(text.trimEnd().split('\n').length, 1, 'one line');
  const doc = JSON.parse(text) as Doc;
  assert.equal(typeof doc, 'object');
  return doc;
}

function poolNames(doc: Doc): string[] {
  return Object.keys(doc).filter((k) => !TOP_FIELDS.includes(k));
}

function serverNames(pool: Doc): string[] {
  return Object.keys(pool).filter((k) => !POOL_FIELDS.includes(k));
}

/** Field names by level, sorted: the shape a tool written for nutcracker depends on. */
function shape(doc: Doc): { top: string[]; pool: string[]; server: string[] } {
  const pool = doc[poolNames(doc)[0]] as Doc;
  const server = pool[serverNames(pool)[0]] as Doc;
  const fields = (o: Doc, exclude: readonly string[]) =>
    Object.keys(o)
      .filter((k) => !exclude.includes(k))
      .sort();
  return {
    top: Object.keys(doc)
      .filter((k) => TOP_FIELDS.includes(k))
      .sort(),
    pool: fields(pool, serverNames(pool)),
    server: fields(server, []),
  };
}

test('legate: one JSON document with every twemproxy field, values that fit the load', async () => {
  const { file, ports } = await twoPools();
  legate = await startLegate(['-c', file, '-w', '2', '-i', '200']);
  const statsPort = legate.statsPort ?? 0;
  assert.ok(statsPort > 0, 'legate logged its stats port');
  await load(file, ports);
  // Wait until a snapshot carries the load (and the clients' closes), as /stats shows it.
  const deadline = Date.now() + 8000;
  for (;;) {
    const s = await getStats(legate.adminPort ?? 0);
    const done = s.pools.every(
      (p) => p.requests === (p.name === 'web' ? 3 : 2) * SETS_PER_KEY + 1 && p.client_eof === 1,
    );
    if (done) break;
    assert.ok(Date.now() < deadline, `load not in a snapshot: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const doc = await statsDocument(statsPort);
  const stats = await getStats(legate.adminPort ?? 0);

  for (const f of TOP_FIELDS) assert.ok(f in doc, `top-level ${f}`);
  assert.equal(doc.service, 'legate');
  assert.equal(typeof doc.source, 'string');
  assert.match(String(doc.version), /^\d+\.\d+\.\d+/);
  const now = Date.now() / 1000;
  assert.ok(Math.abs(Number(doc.timestamp) - now) < 5, `timestamp ${doc.timestamp} is now`);
  assert.ok(Number(doc.uptime) >= 0 && Number(doc.uptime) < 60, `uptime ${doc.uptime}`);
  assert.deepEqual(poolNames(doc).sort(), ['jobs', 'web']);

  let serverConnections = 0;
  let clientConnections = 0;
  for (const name of ['web', 'jobs']) {
    const pool = doc[name] as Doc;
    const view = poolOf(stats, name);
    for (const f of POOL_FIELDS) assert.equal(typeof pool[f], 'number', `${name}.${f}`);
    const servers = serverNames(pool);
    assert.deepEqual(
      servers.sort(),
      view.servers.map((s) => s.name).sort(),
      `${name}: every server of the pool`,
    );
    assert.equal(pool.client_eof, 1, `${name}: the one client closed`);
    assert.equal(pool.client_err, 0);
    assert.equal(pool.client_connections, 0);
    assert.equal(pool.server_ejects, 0);
    assert.equal(pool.forward_error, 0);
    assert.equal(pool.fragments, servers.length, `${name}: the MGET's parts`);
    clientConnections += Number(pool.client_connections);
    let requests = 0;
    for (const server of servers) {
      const s = pool[server] as Doc;
      for (const f of SERVER_FIELDS) assert.equal(typeof s[f], 'number', `${name}.${server}.${f}`);
      assert.equal(Object.keys(s).length, SERVER_FIELDS.length, 'no other field');
      const v = serverOf(view, server);
      assert.equal(s.requests, SETS_PER_KEY + 1, `${name}.${server}: its SETs and MGET part`);
      assert.equal(s.responses, s.requests);
      assert.equal(s.requests, v.requests, 'the same numbers as /stats');
      assert.equal(s.request_bytes, v.request_bytes);
      assert.equal(s.response_bytes, v.response_bytes);
      assert.ok(Number(s.request_bytes) > Number(s.requests) * 20, 'request bytes counted');
      assert.ok(Number(s.response_bytes) >= Number(s.responses) * 5, 'response bytes counted');
      assert.equal(s.server_ejected_at, 0);
      for (const f of ['server_eof', 'server_err', 'server_timedout', 'in_queue', 'out_queue'])
        assert.equal(s[f], 0, `${name}.${server}.${f}`);
      assert.ok(Number(s.server_connections) >= 1, 'connected');
      serverConnections += Number(s.server_connections);
      requests += Number(s.requests);
    }
    assert.equal(requests, servers.length * (SETS_PER_KEY + 1));
  }
  assert.equal(doc.curr_connections, clientConnections + serverConnections);
  assert.ok(
    Number(doc.total_connections) >= Number(doc.curr_connections),
    `total_connections ${doc.total_connections} counts at least the open ones (${doc.curr_connections})`,
  );
  assert.ok(Number(doc.total_connections) >= 2, 'both clients counted');

  // Each connection gets its own fresh document.
  const again = await statsDocument(statsPort);
  assert.ok(Number(again.timestamp) >= Number(doc.timestamp));
  await legate.stop();
  legate = undefined;
});

test('the field names are nutcracker’s own, level by level', async () => {
  const { file, ports } = await twoPools();
  nutcracker = await startNutcracker(file, ports.jobs, ['-i', '100']);
  await load(file, ports);
  // nutcracker aggregates its stats every -i ms; wait for the load to show.
  let theirs: Doc = {};
  const deadline = Date.now() + 8000;
  for (;;) {
    theirs = await statsDocument(nutcracker.statsPort ?? 0);
    const jobs = theirs.jobs as Doc | undefined;
    const served =
      jobs !== undefined &&
      serverNames(jobs).every((n) => (jobs[n] as Doc).responses === SETS_PER_KEY + 1);
    if (served) break;
    assert.ok(Date.now() < deadline, `nutcracker's stats never showed the load`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await nutcracker.stop();
  nutcracker = undefined;

  legate = await startLegate(['-c', file, '-w', '2', '-i', '200']);
  const ours = await statsDocument(legate.statsPort ?? 0);
  assert.equal(theirs.service, 'nutcracker');
  assert.deepEqual(shape(ours), shape(theirs), 'the same fields at each level');
  assert.deepEqual(shape(ours).top, [...TOP_FIELDS].sort());
  assert.deepEqual(shape(ours).pool, [...POOL_FIELDS].sort());
  assert.deepEqual(shape(ours).server, [...SERVER_FIELDS].sort());
  assert.deepEqual(poolNames(ours).sort(), poolNames(theirs).sort(), 'the same pools');
  for (const p of poolNames(theirs)) {
    assert.deepEqual(
      serverNames(ours[p] as Doc).sort(),
      serverNames(theirs[p] as Doc).sort(),
      `pool ${p}: the same server names`,
    );
    for (const f of POOL_FIELDS)
      assert.equal(typeof (ours[p] as Doc)[f], typeof (theirs[p] as Doc)[f], `${p}.${f} type`);
  }
  // For the same load, nutcracker's per-server request and reply counts (what dashboards graph).
  const web = theirs.web as Doc;
  for (const server of serverNames(web)) {
    const s = web[server] as Doc;
    assert.equal(s.requests, SETS_PER_KEY + 1, `nutcracker ${server} requests`);
    assert.equal(s.responses, SETS_PER_KEY + 1, `nutcracker ${server} responses`);
  }
  // nutcracker 0.5.0 never increments `fragments` (it stays 0 after a split MGET); legate counts
  // the parts, which the first test checks.
});
