// redis-benchmark, which checks every reply and exits on the first error, through legate with two
// workers over three shards: its default tests, its CSV output, and deep pipelines with MSET.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { locate, portOf } from '../helpers/keys.ts';
import { type Cluster, type RedisProcess, run, startCluster } from '../helpers/processes.ts';

let cluster: Cluster;
let shards: RedisProcess[] = [];
let port: number;
let config: Cluster['config'];

before(async () => {
  cluster = await startCluster();
  ({ shards, port, config } = cluster);
});

after(async () => {
  await cluster?.stop();
});

/** redis-benchmark 7.0's default tests, as it names them in its output. */
const DEFAULT_TESTS = [
  'PING_INLINE',
  'PING_MBULK',
  'SET',
  'GET',
  'INCR',
  'LPUSH',
  'RPUSH',
  'LPOP',
  'RPOP',
  'SADD',
  'HSET',
  'SPOP',
  'ZADD',
  'ZPOPMIN',
  'LPUSH (needed to benchmark LRANGE)',
  'LRANGE_100 (first 100 elements)',
  'LRANGE_300 (first 300 elements)',
  'LRANGE_500 (first 500 elements)',
  'LRANGE_600 (first 600 elements)',
  'MSET (10 keys)',
];

async function benchmark(...args: string[]) {
  const r = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeoutMs: 40000,
  });
  const stdout = r.stdout.toString();
  // On an error reply redis-benchmark prints "Error from server: …" and exits 1; a lost
  // connection prints "Error: …" or "Writing to socket" / "Reading from socket".
  assert.doesNotMatch(`${stdout}\n${r.stderr}`, /error|ERR |WRONGTYPE|socket/i);
  assert.equal(r.code, 0, `redis-benchmark exited ${r.code}:\n${stdout}\n${r.stderr}`);
  return stdout;
}

/** The final result lines of `-q` output: progress updates end in CR, results in LF. */
function resultLines(stdout: string): Map<string, number> {
  const results = new Map<string, number>();
  for (const piece of stdout.split(/[\r\n]+/)) {
    const m = /^\s*(.+?): ([\d.]+) requests per second/.exec(piece);
    if (m) results.set(m[1], Number(m[2]));
  }
  return results;
}

test('redis-benchmark -q -n 2000: every default test completes without an error', async () => {
  const results = resultLines(await benchmark('-q', '-n', '2000'));
  assert.deepEqual([...results.keys()], DEFAULT_TESTS);
  for (const [name, rps] of results) assert.ok(rps > 0, `${name}: ${rps} requests per second`);
});

test('redis-benchmark --csv: a header and one parsable row per default test', async () => {
  const lines = (await benchmark('--csv', '-n', '2000')).trim().split('\n');
  const parse = (line: string) => {
    const m = line.match(/^"([^"]*)"(?:,"([^"]*)")*$/);
    assert.ok(m, `a CSV line of quoted fields: ${line}`);
    return [...line.matchAll(/"([^"]*)"/g)].map((f) => f[1]);
  };
  const header = parse(lines[0]);
  assert.deepEqual(header.slice(0, 2), ['test', 'rps']);
  const rows = lines.slice(1).map(parse);
  assert.deepEqual(
    rows.map((r) => r[0]),
    DEFAULT_TESTS,
  );
  for (const row of rows) {
    assert.equal(row.length, header.length, row.join(','));
    for (const field of row.slice(1)) assert.ok(Number.isFinite(Number(field)), row.join(','));
    assert.ok(Number(row[1]) > 0, `${row[0]} rps`);
  }
});

test('redis-benchmark -P 16 -r 1000 -t set,get,mset: deep pipelines and cross-shard MSET', async () => {
  const results = resultLines(
    await benchmark('-q', '-n', '20000', '-P', '16', '-r', '1000', '-t', 'set,get,mset'),
  );
  assert.deepEqual([...results.keys()], ['SET', 'GET', 'MSET (10 keys)']);
  // The random keys (key:000000000000 to key:000000000999) went where `legate locate` says.
  const where = await locate(
    config.file,
    Array.from({ length: 1000 }, (_, i) => `key:${String(i).padStart(12, '0')}`),
  );
  let stored = 0;
  for (const s of shards) {
    const r = await run('redis-cli', ['-p', String(s.port), '--raw', 'keys', 'key:0*']);
    const keys = r.stdout
      .toString()
      .split('\n')
      .filter((k) => k !== '');
    for (const k of keys) assert.equal(portOf(where.get(k) ?? ''), s.port, k);
    stored += keys.length;
  }
  assert.ok(stored > 900, `${stored} of the 1000 random keys were written`);
});
