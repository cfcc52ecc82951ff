import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { countCpuList, cpuBudget } from '../../engine/supervisor/cpu-budget.ts';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A fake `/` holding the given files (path → contents). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'legate-cgroup-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('no cgroup files: one per core, as the affinity mask allows', () => {
  const root = tree({});
  assert.deepEqual(cpuBudget({ root, parallelism: 8 }), {
    count: 8,
    why: 'one per core (8 cores)',
  });
  assert.deepEqual(cpuBudget({ root, parallelism: 1 }), { count: 1, why: 'one per core (1 core)' });
});

test('cgroup v2: cpu.max of the process cgroup, rounded up', () => {
  const root = tree({
    'proc/self/cgroup': '0::/kubepods/pod1/legate\n',
    'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n',
    'sys/fs/cgroup/kubepods/pod1/legate/cpu.max': '200000 100000\n',
    'sys/fs/cgroup/kubepods/pod1/legate/cpuset.cpus.effective': '0-63\n',
  });
  assert.deepEqual(cpuBudget({ root, parallelism: 64 }), {
    count: 2,
    why: 'cgroup cpu.max 200000/100000',
  });
  const half = tree({
    'proc/self/cgroup': '0::/\n',
    'sys/fs/cgroup/cpu.max': '150000 100000\n',
  });
  assert.equal(cpuBudget({ root: half, parallelism: 64 }).count, 2, '1.5 CPUs round up to 2');
  const tiny = tree({
    'proc/self/cgroup': '0::/\n',
    'sys/fs/cgroup/cpu.max': '10000 100000\n',
  });
  assert.deepEqual(cpuBudget({ root: tiny, parallelism: 64 }), {
    count: 1,
    why: 'cgroup cpu.max 10000/100000',
  });
});

test('cgroup v2: `max` is no limit; a parent limit applies to its children', () => {
  const root = tree({
    'proc/self/cgroup': '0::/pod/legate\n',
    'sys/fs/cgroup/pod/cpu.max': '300000 100000\n',
    'sys/fs/cgroup/pod/legate/cpu.max': 'max 100000\n',
  });
  assert.deepEqual(cpuBudget({ root, parallelism: 16 }), {
    count: 3,
    why: 'cgroup cpu.max 300000/100000',
  });
  const unlimited = tree({
    'proc/self/cgroup': '0::/pod/legate\n',
    'sys/fs/cgroup/pod/legate/cpu.max': 'max 100000\n',
  });
  assert.deepEqual(cpuBudget({ root: unlimited, parallelism: 4 }), {
    count: 4,
    why: 'one per core (4 cores)',
  });
});

test('cgroup v2: a cpuset narrower than the cores and the quota', () => {
  const root = tree({
    'proc/self/cgroup': '0::/pod\n',
    'sys/fs/cgroup/pod/cpu.max': '800000 100000\n',
    'sys/fs/cgroup/pod/cpuset.cpus.effective': '2-3,6\n',
  });
  assert.deepEqual(cpuBudget({ root, parallelism: 16 }), {
    count: 3,
    why: 'cgroup cpuset.cpus.effective 2-3,6',
  });
});

test('cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us under cpu,cpuacct', () => {
  const root = tree({
    'proc/self/cgroup':
      '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:cpuset:/docker/abc\n0::/\n',
    'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '100000\n',
    'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/cpuset/docker/abc/cpuset.cpus': '0-7\n',
  });
  assert.deepEqual(cpuBudget({ root, parallelism: 8 }), {
    count: 1,
    why: 'cgroup cpu.cfs_quota_us 100000/100000',
  });
});

test('cgroup v1: quota -1 is no limit; the container sees its own cgroup at the mount', () => {
  const unlimited = tree({
    'proc/self/cgroup': '2:cpu:/\n1:cpuset:/\n',
    'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
    'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/cpuset/cpuset.cpus': '0-1\n',
  });
  assert.deepEqual(cpuBudget({ root: unlimited, parallelism: 2 }), {
    count: 2,
    why: 'one per core (2 cores)',
  });
  // Docker on v1 without a cgroup namespace: /proc/self/cgroup names the host's path, but the
  // container's own cgroup is mounted at /sys/fs/cgroup/cpu.
  const container = tree({
    'proc/self/cgroup': '2:cpu:/docker/0123abcd\n1:cpuset:/docker/0123abcd\n',
    'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '250000\n',
    'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/cpuset/cpuset.cpus': '0-1\n',
  });
  assert.deepEqual(cpuBudget({ root: container, parallelism: 32 }), {
    count: 2,
    why: 'cgroup cpuset.cpus 0-1',
  });
});

test('CPU lists', () => {
  assert.equal(countCpuList('0'), 1);
  assert.equal(countCpuList('0-3,8,10-11'), 7);
  assert.equal(countCpuList('3-1'), 0);
  assert.equal(countCpuList('junk'), 0);
});
