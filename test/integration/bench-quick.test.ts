// The Redis bench's harness works end to end (`--quick`): it starts every target, runs
// redis-benchmark against each, and writes its report. Speed is never asserted here.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NODE, run } from '../helpers/processes.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'legate-bench-quick-'));

after(() => rmSync(out, { recursive: true, force: true }));

test('npm run bench -- redis --quick prints the table for every target and writes its JSON', async () => {
  const r = await run(NODE, [join(ROOT, 'bench/run.ts'), 'redis', '--quick', '--out', out], {
    timeoutMs: 180000,
  });
  const stdout = r.stdout.toString();
  assert.equal(r.code, 0, `exit ${r.code}\n${stdout}\n${r.stderr}`);

  const labels = [
    'redis direct',
    'nutcracker',
    `legate -w ${availableParallelism()}`,
    'legate -w 1',
  ];
  assert.match(stdout, /\| test +\| target +\| +rps \|/);
  for (const label of labels) {
    assert.ok(stdout.includes(`| ${label} `), `table row for ${label}\n${stdout}`);
  }
  assert.match(stdout, /### Memory: idle client connections/);

  const file = join(out, 'redis.json');
  assert.ok(existsSync(file), `${file} exists`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    targets: { label: string }[];
    summary: { target: string; okRuns: number }[];
    memory: { target: string }[];
  };
  assert.deepEqual(
    json.targets.map((t) => t.label),
    labels,
  );
  for (const id of ['direct', 'nutcracker', 'legate-auto', 'legate-1']) {
    assert.ok(
      json.summary.some((s) => s.target === id),
      `summary has ${id}`,
    );
  }
  assert.deepEqual(
    json.memory.map((m) => m.target),
    ['legate-auto', 'legate-1', 'nutcracker'],
  );
  for (const chart of ['redis-throughput-P1.svg', 'redis-throughput-P16.svg', 'redis-memory.svg'])
    assert.ok(existsSync(join(out, chart)), `${chart} written`);
});

test('npm run bench -- footprint --quick measures legate on both data planes and the peers', async () => {
  const r = await run(
    NODE,
    [
      join(ROOT, 'bench/run.ts'),
      'footprint',
      '--quick',
      '--only',
      'legate -w 1,legate -w 1 LEGATE_NET=node,nutcracker',
    ],
    { timeoutMs: 180000 },
  );
  const stdout = r.stdout.toString();
  assert.equal(r.code, 0, `exit ${r.code}\n${stdout}\n${r.stderr}`);
  for (const label of ['legate -w 1', 'legate -w 1 LEGATE_NET=node', 'nutcracker']) {
    const row = stdout.split('\n').find((l) => l.startsWith(`| ${label} `));
    assert.ok(row, `table row for ${label}\n${stdout}`);
    // ready ms, RSS at rest, after load, after idle: measured numbers, not blanks.
    const cells = row.split('|').map((c) => c.trim());
    for (const i of [2, 3, 4, 5])
      assert.match(cells[i], /^\d+(\.\d)?$/, `${label}: cell ${i} in\n${row}`);
  }
});
