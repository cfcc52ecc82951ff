import { request } from 'node:http';
import type { LatencyJson, PoolJson, ServerJson, StatsJson } from '../admin/admin-server.ts';
import { loadConfig } from '../config/load.ts';
import { LegateError } from '../errors.ts';
import { intOption, type ParsedArgs } from './args.ts';
import { parseHostPort } from './main.ts';
import { renderHttpTable } from './top-http.ts';
import { renderTcpTable } from './top-tcp.ts';

const DEFAULT_ADMIN = { host: '127.0.0.1', port: 9909 };
const FETCH_TIMEOUT_MS = 2000;

/** Where the admin server is: --admin, then LEGATE_ADMIN, then -c FILE's admin.listen, else the default. */
export function adminAddress(args: ParsedArgs): { host: string; port: number } {
  const given = args.options.get('admin') ?? process.env.LEGATE_ADMIN;
  let address = DEFAULT_ADMIN;
  if (given !== undefined) {
    address = parseHostPort(given, args.options.has('admin') ? '--admin' : 'LEGATE_ADMIN');
  } else {
    const file = args.options.get('conf-file');
    if (file !== undefined) {
      const listen = loadConfig(file).admin.listen;
      if (listen.kind === 'tcp') address = { host: listen.host, port: listen.port };
    }
  }
  // An admin server bound to every address is reached on loopback.
  if (address.host === '0.0.0.0') return { ...address, host: '127.0.0.1' };
  if (address.host === '::') return { ...address, host: '::1' };
  return address;
}

function statsUrl(a: { host: string; port: number }): string {
  return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/stats`;
}

/** GET /stats; rejects with a message a person can act on. */
export function fetchStats(a: { host: string; port: number }): Promise<StatsJson> {
  const url = statsUrl(a);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: a.host, port: a.port, path: '/stats', timeout: FETCH_TIMEOUT_MS },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`${url} answered ${res.statusCode}, not legate's statistics`));
            return;
          }
          try {
            const doc = JSON.parse(body) as StatsJson;
            if (doc.service !== 'legate' || !Array.isArray(doc.pools)) throw new Error('shape');
            resolve(doc);
          } catch {
            reject(new Error(`${url} did not answer with legate's statistics`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot reach the admin server at ${url}: ${err.code ?? err.message}`)),
    );
    req.end();
  });
}

/** What `top` counts as errors: a pool's own error replies plus its servers' failed connections. */
function serverErrors(s: ServerJson): number {
  return s.server_err + s.server_timedout + s.server_eof;
}

function poolErrors(p: PoolJson): number {
  return p.forward_error + p.servers.reduce((n, s) => n + serverErrors(s), 0);
}

export interface Rate {
  readonly ops: number;
  readonly errors: number;
}

interface Counted {
  readonly requests: number;
  readonly errors: number;
}

/**
 * Per-second rates from successive /stats documents. Counters move only when worker snapshots
 * land, so a rate divides by the change in the snapshots' own time (`updated_at_ms`), not by the
 * time between polls; with no new snapshot the last rate stands.
 */
export class RateTracker {
  #last = new Map<string, { at: number; counts: Map<string, Counted> }>();
  #rates = new Map<string, Rate>();

  update(stats: StatsJson): void {
    for (const p of stats.pools) {
      const counts = new Map<string, Counted>();
      counts.set('', { requests: p.requests, errors: poolErrors(p) });
      for (const s of p.servers)
        counts.set(s.name, { requests: s.requests, errors: serverErrors(s) });
      const last = this.#last.get(p.name);
      if (last !== undefined && p.updated_at_ms <= last.at) continue;
      if (last !== undefined && last.at > 0) {
        const dt = (p.updated_at_ms - last.at) / 1000;
        for (const [name, c] of counts) {
          const before = last.counts.get(name);
          const key = `${p.name}\n${name}`;
          // A counter that went down means legate restarted: no rate until the next sample.
          if (before === undefined || c.requests < before.requests) this.#rates.delete(key);
          else
            this.#rates.set(key, {
              ops: (c.requests - before.requests) / dt,
              errors: Math.max(0, c.errors - before.errors) / dt,
            });
        }
      }
      this.#last.set(p.name, { at: p.updated_at_ms, counts });
    }
  }

  /** The pool's rate (server omitted) or a server's; undefined until two snapshots were seen. */
  rate(pool: string, server = ''): Rate | undefined {
    return this.#rates.get(`${pool}\n${server}`);
  }
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const hms = `${h}h${String(m).padStart(2, '0')}m${String(s).padStart(2, '0')}s`;
  return d > 0 ? `${d}d${hms}` : hms;
}

function perSecond(n: number | undefined): string {
  if (n === undefined) return '-';
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export function millis(micros: number, count: number): string {
  if (count === 0) return '-';
  const ms = micros / 1000;
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

export const COLUMNS = [
  'POOL / SERVER',
  'OPS/S',
  'ERR/S',
  'P50ms',
  'P99ms',
  'MAXms',
  'CONNS',
  'STATE',
] as const;

/** Styling hooks: ANSI for the live view, identity for `--once`. */
export interface Style {
  heading(text: string): string;
  alert(text: string): string;
}

export const PLAIN: Style = { heading: (t) => t, alert: (t) => t };
export const ANSI: Style = {
  heading: (t) => `\x1b[1m${t}\x1b[0m`,
  alert: (t) => `\x1b[1;31m${t}\x1b[0m`,
};

/** The P50, P99 and MAX columns, in ms. */
function latencyCells(l: LatencyJson): string[] {
  return [millis(l.p50, l.count), millis(l.p99, l.count), millis(l.max, l.count)];
}

/** One screen: a header line, then per pool a row and a row per server. */
export function renderFrame(
  stats: StatsJson,
  rates: RateTracker,
  where: string,
  style: Style,
  note = '',
): string {
  const rows: string[][] = [];
  const alerts = new Set<number>();
  for (const p of stats.pools) {
    const live = p.servers.filter((s) => !s.ejected).length;
    const r = rates.rate(p.name);
    rows.push([
      p.name,
      perSecond(r?.ops),
      perSecond(r?.errors),
      ...latencyCells(p.recent_latency_us),
      String(p.client_connections),
      `${live}/${p.servers.length} live`,
    ]);
    if (live === 0) alerts.add(rows.length - 1);
    for (const s of p.servers) {
      const sr = rates.rate(p.name, s.name);
      rows.push([
        `  ${s.name}`,
        perSecond(sr?.ops),
        perSecond(sr?.errors),
        ...latencyCells(s.recent_latency_us),
        String(s.server_connections),
        s.ejected ? 'EJECTED' : 'live',
      ]);
      if (s.ejected) alerts.add(rows.length - 1);
    }
  }
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const format = (cells: readonly string[]) =>
    cells
      .map((c, i) =>
        i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]),
      )
      .join('  ')
      .trimEnd();
  const header =
    `legate ${stats.version}  up ${duration(stats.uptime_s)}  ` +
    `workers ${stats.workers_ready}/${stats.workers}  admin ${where}`;
  const window = Math.max(0, ...stats.pools.map((p) => p.recent_window_s));
  const redis =
    stats.pools.length === 0 && (stats.tcp !== undefined || stats.http !== undefined)
      ? []
      : [
          `latency: ${window > 0 ? `the last ${window} s` : 'since start'}; ops/s and errors/s: since the last snapshot`,
          note,
          style.heading(format(COLUMNS)),
          ...rows.map((r, i) => (alerts.has(i) ? style.alert(format(r)) : format(r))),
        ];
  const tcp =
    stats.tcp === undefined
      ? []
      : [redis.length > 0 ? '' : note, ...renderTcpTable(stats.tcp, style)];
  const http =
    stats.http === undefined
      ? []
      : [redis.length > 0 || tcp.length > 0 ? '' : note, ...renderHttpTable(stats.http, style)];
  return [header, ...redis, ...tcp, ...http, ''].join('\n');
}

const CLEAR_HOME = '\x1b[2J\x1b[H';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * `legate top`: polls GET /stats every --interval ms and redraws (clear screen + home), until
 * Ctrl-C. `--once` prints one plain frame, with rates over one interval, and exits.
 */
export async function runTop(
  args: ParsedArgs,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const address = adminAddress(args);
  const intervalMs = intOption(args, 'interval', 100, 60000) ?? 1000;
  const where = statsUrl(address).replace(/^http:\/\/|\/stats$/g, '');
  const rates = new RateTracker();
  const unreachable = (err: unknown) =>
    new LegateError(
      'LEGATE_ADMIN_UNREACHABLE',
      `${(err as Error).message} (is legate running? point at its admin server with --admin HOST:PORT or LEGATE_ADMIN)`,
    );
  let stats: StatsJson;
  try {
    stats = await fetchStats(address);
  } catch (err) {
    throw unreachable(err);
  }
  rates.update(stats);

  const stop = new AbortController();
  if (args.options.has('once')) {
    // Rates need a second sample from a later snapshot; wait up to two intervals for one.
    const first = stats.pools[0]?.updated_at_ms ?? 0;
    const deadline = Date.now() + 2 * intervalMs;
    await sleep(intervalMs, stop.signal);
    for (;;) {
      try {
        stats = await fetchStats(address);
      } catch (err) {
        throw unreachable(err);
      }
      if ((stats.pools[0]?.updated_at_ms ?? 0) !== first || Date.now() >= deadline) break;
      await sleep(100, stop.signal);
    }
    rates.update(stats);
    out.write(renderFrame(stats, rates, where, PLAIN));
    return 0;
  }

  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  out.write(HIDE_CURSOR);
  try {
    let note = '';
    let lastGood = new Date();
    while (!stop.signal.aborted) {
      out.write(CLEAR_HOME + renderFrame(stats, rates, where, ANSI, note));
      await sleep(intervalMs, stop.signal);
      if (stop.signal.aborted) break;
      try {
        stats = await fetchStats(address);
        rates.update(stats);
        lastGood = new Date();
        note = '';
      } catch (err) {
        // Keep the last numbers on screen while legate restarts; say so.
        note = ANSI.alert(
          `${(err as Error).message}; retrying (numbers below from ${lastGood.toLocaleTimeString()})`,
        );
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    out.write(`${SHOW_CURSOR}\n`);
  }
  return 0;
}
