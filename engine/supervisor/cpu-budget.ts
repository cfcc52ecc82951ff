// How many CPUs this process may really use: a sidecar limited to one CPU on a 64-core node must
// start one worker, not 64. os.availableParallelism() honours the scheduler affinity mask but
// not a CFS quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us) nor a cpuset the affinity does not
// show; both are read here from the cgroup files of this process's own cgroup and its
// ancestors (the smallest quota wins, as the kernel enforces every level).
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/** A worker count for `auto` and the reason, for the log. */
export interface CpuBudget {
  count: number;
  why: string;
}

export interface CpuBudgetSources {
  /** Where /proc and /sys live: `/` for real, a temporary directory in tests. */
  root?: string;
  /** CPUs the scheduler lets this process run on (affinity mask). */
  parallelism?: number;
}

/** The worker count `auto` stands for here, and why. */
export function cpuBudget(sources: CpuBudgetSources = {}): CpuBudget {
  const root = sources.root ?? '/';
  const cores = sources.parallelism ?? availableParallelism();
  let count = cores;
  let why = cores === 1 ? 'one per core (1 core)' : `one per core (${cores} cores)`;
  const groups = readProcCgroup(root);
  const cpuset = findCpuset(root, groups);
  if (cpuset !== null && cpuset.cpus < count) {
    count = cpuset.cpus;
    why = `cgroup ${cpuset.file} ${cpuset.text}`;
  }
  const quota = findQuota(root, groups);
  if (quota !== null && quota.cpus < count) {
    count = quota.cpus;
    why = `cgroup ${quota.file} ${quota.text}`;
  }
  return { count: Math.max(1, count), why };
}

/** /proc/self/cgroup: hierarchy id, controllers, path. v2's line is `0::/path`. */
interface CgroupLine {
  controllers: string[];
  path: string;
}

function readProcCgroup(root: string): CgroupLine[] {
  const text = readText(join(root, 'proc/self/cgroup'));
  if (text === null) return [];
  const lines: CgroupLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m !== null) lines.push({ controllers: m[1] === '' ? [] : m[1].split(','), path: m[2] });
  }
  return lines;
}

/**
 * The directories that hold `controller`'s files for this process, from its own cgroup up to
 * the hierarchy's root, with the file-name prefix style (v1 or v2).
 */
function controllerDirs(
  root: string,
  groups: CgroupLine[],
  controller: string,
): { dirs: string[]; v2: boolean } | null {
  const v1 = groups.find((g) => g.controllers.includes(controller));
  if (v1 !== undefined) {
    // Mounted as /sys/fs/cgroup/cpu,cpuacct (the line's own name) or /sys/fs/cgroup/cpu.
    for (const name of [v1.controllers.join(','), controller]) {
      const mount = join(root, 'sys/fs/cgroup', name);
      if (existsSync(mount)) return { dirs: ancestry(mount, v1.path), v2: false };
    }
    return null;
  }
  const v2 = groups.find((g) => g.controllers.length === 0);
  if (v2 === undefined) return null;
  return { dirs: ancestry(join(root, 'sys/fs/cgroup'), v2.path), v2: true };
}

/**
 * `mount/path`, then each parent up to `mount`. In a container the path may be the host's
 * (v1 without a cgroup namespace) while the mount is the container's own cgroup: then only
 * directories that exist count, and the mount itself is always tried last.
 */
function ancestry(mount: string, path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const dirs: string[] = [];
  for (let i = parts.length; i > 0; i--) dirs.push(join(mount, ...parts.slice(0, i)));
  dirs.push(mount);
  return dirs;
}

interface Found {
  cpus: number;
  file: string;
  text: string;
}

function findQuota(root: string, groups: CgroupLine[]): Found | null {
  const where = controllerDirs(root, groups, 'cpu');
  if (where === null) return null;
  let best: Found | null = null;
  for (const dir of where.dirs) {
    let found: Found | null = null;
    if (where.v2) {
      const text = readText(join(dir, 'cpu.max'));
      const m = text === null ? null : /^(\d+)\s+(\d+)/.exec(text);
      if (m !== null) found = quotaOf(Number(m[1]), Number(m[2]), 'cpu.max', `${m[1]}/${m[2]}`);
    } else {
      const q = readText(join(dir, 'cpu.cfs_quota_us'));
      const p = readText(join(dir, 'cpu.cfs_period_us'));
      if (q !== null && p !== null && Number(q) > 0 && Number(p) > 0)
        found = quotaOf(Number(q), Number(p), 'cpu.cfs_quota_us', `${q.trim()}/${p.trim()}`);
    }
    if (found !== null && (best === null || found.cpus < best.cpus)) best = found;
  }
  return best;
}

function quotaOf(quota: number, period: number, file: string, text: string): Found | null {
  if (!(quota > 0 && period > 0)) return null;
  // A quota of 1.5 CPUs can keep two threads busy part of the time: round up, at least one.
  return { cpus: Math.max(1, Math.ceil(quota / period)), file, text };
}

function findCpuset(root: string, groups: CgroupLine[]): Found | null {
  const where = controllerDirs(root, groups, 'cpuset');
  if (where === null) return null;
  const names = where.v2 ? ['cpuset.cpus.effective'] : ['cpuset.effective_cpus', 'cpuset.cpus'];
  // The process's own (deepest existing) cgroup: its effective set is already the intersection.
  for (const dir of where.dirs) {
    for (const name of names) {
      const text = readText(join(dir, name))?.trim();
      if (text === undefined || text === '') continue;
      const cpus = countCpuList(text);
      if (cpus > 0) return { cpus, file: name, text };
    }
  }
  return null;
}

/** `0-3,8,10-11` → 7; 0 for text that is not a CPU list. */
export function countCpuList(text: string): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) return 0;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return 0;
    n += to - from + 1;
  }
  return n;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
