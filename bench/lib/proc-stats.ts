// What a process costs, from /proc: CPU time (all threads), resident memory, descriptor limit.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** USER_HZ: utime and stime in /proc/PID/stat count these. Almost always 100, but ask. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 });
    const n = Number(r.stdout?.trim());
    ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/**
 * CPU seconds (user + system) the process has used so far, every thread included: the
 * process-level line sums its threads, which is what makes legate's workers count.
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm (field 2) may hold spaces and parentheses; everything after the last ')' is fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

function statusField(pid: number | 'self', name: string): string | undefined {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}

/** Resident memory (VmRSS) in KB. */
export function rssKb(pid: number | 'self'): number {
  const v = statusField(pid, 'VmRSS');
  if (v === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number.parseInt(v, 10);
}

/** The soft limit on open descriptors ("Max open files" in /proc/PID/limits). */
export function openFilesLimit(pid: number | 'self'): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined) return Number.POSITIVE_INFINITY;
  return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

/** Descriptors the process has open right now. */
export function openFiles(pid: number | 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The machine's CPU time so far, all cores, in clock ticks: every state, and stolen. */
export interface MachineCpu {
  readonly total: number;
  /** Time the hypervisor ran something else while this guest wanted the CPU. */
  readonly steal: number;
}

/** The first line of /proc/stat (user nice system idle iowait irq softirq steal …). */
export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: ticks.reduce((a, b) => a + b, 0), steal: ticks[7] ?? 0 };
}

/** Stolen time between two readings, as a percentage of all CPU time in between. */
export function stealPercent(before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total;
  return total > 0 ? ((after.steal - before.steal) / total) * 100 : 0;
}
