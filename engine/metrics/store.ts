import {
  addEncoded,
  decodeHistogram,
  type Histogram,
  histogramDifference,
  latencyHistogram,
} from './histogram.ts';
import { HttpTotals } from './http-stats.ts';
import {
  emptyPoolCounters,
  emptyServerCounters,
  GAUGES,
  type PoolCounters,
  type PoolSnapshot,
  type ServerCounters,
  type ServerSnapshot,
  type WorkerSnapshot,
} from './snapshot.ts';

/** One server's numbers over all workers. */
export interface ServerView {
  readonly name: string;
  readonly counters: ServerCounters;
  readonly latency: Histogram;
}

/** One pool's numbers over all workers. */
export interface PoolView {
  readonly name: string;
  readonly counters: PoolCounters;
  readonly latency: Histogram;
  readonly servers: ServerView[];
  /**
   * Mean time (Unix ms) of the live workers' snapshots merged here; 0 before any. Rates are
   * counter differences over differences of this, not of the reader's clock: counters move only
   * when a snapshot lands, so a reader's own clock would see steps, not a rate.
   */
  updatedAt: number;
}

function addCounters<T extends object>(into: T, from: T, includeGauges: boolean): void {
  const target = into as Record<string, number>;
  for (const [k, v] of Object.entries(from as Record<string, number>)) {
    if (includeGauges || !GAUGES.has(k)) target[k] = (target[k] ?? 0) + v;
  }
}

/** Whether a counter of `now` is below its value in `before`: what counted them started again. */
function wentBack<T extends object>(before: T, now: T): boolean {
  const b = before as Record<string, number>;
  for (const [k, v] of Object.entries(now as Record<string, number>)) {
    if (!GAUGES.has(k) && v < (b[k] ?? 0)) return true;
  }
  return false;
}

/** Latency over the recent window of one pool (and each of its servers, in config order). */
export interface RecentLatency {
  /** How far back the window reaches, the mean over the live workers; 0 before two snapshots. */
  readonly windowMs: number;
  readonly latency: Histogram;
  readonly servers: Histogram[];
}

/** What replaced workers (or replaced pools and servers in a worker) had counted, per pool. */
interface Retired {
  readonly counters: PoolCounters;
  readonly latency: Histogram;
  readonly servers: Map<string, { counters: ServerCounters; latency: Histogram }>;
}

/**
 * The main thread's merge of the workers' snapshots: the latest from each live worker, plus
 * what workers that died had counted (their gauges die with them, their counters do not).
 * Cumulative numbers of a worker that start again from zero (a pool or server that left its
 * snapshot, or whose counters went back) are folded into the retired total first, so what is
 * reported never decreases.
 */
export class MetricsStore {
  readonly #latest = new Map<number, WorkerSnapshot>();
  /**
   * Each live worker's snapshots, oldest first, back to the newest one at least `windowMs` old:
   * its cumulative histograms subtracted from the latest give the recent window's latency.
   */
  readonly #history = new Map<number, WorkerSnapshot[]>();
  readonly #windowMs: number;

  /** `windowMs`: how far back recent latency reaches (legate: ten stats intervals). */
  constructor(windowMs = 10_000) {
    this.#windowMs = windowMs;
  }
  /**
   * Counters and histograms of workers that were replaced, folded in as they retire: a worker
   * in a crash loop must not make every later /metrics request decode one more snapshot.
   */
  readonly #retired = new Map<string, Retired>();

  /** The HTTP role's numbers of replaced workers and restarted proxies. */
  readonly #httpRetired = new HttpTotals();

  update(snapshot: WorkerSnapshot): void {
    const previous = this.#latest.get(snapshot.worker);
    if (previous !== undefined) this.#foldRestarted(previous, snapshot);
    if (previous?.http !== undefined) this.#httpRetired.foldRestarted(previous.http, snapshot.http);
    this.#latest.set(snapshot.worker, snapshot);
    let history = this.#history.get(snapshot.worker);
    if (history === undefined) {
      history = [];
      this.#history.set(snapshot.worker, history);
    }
    history.push(snapshot);
    const horizon = snapshot.at - this.#windowMs;
    while (history.length > 1 && history[1].at <= horizon) history.shift();
  }

  /** A worker died: keep what it counted, drop its gauges with its connections. */
  retire(worker: number): void {
    const last = this.#latest.get(worker);
    if (last === undefined) return;
    this.#latest.delete(worker);
    // Its replacement counts from zero: a window across the two would subtract the wrong base.
    this.#history.delete(worker);
    if (last.http !== undefined) this.#httpRetired.add(last.http, false);
    for (const ps of last.pools) {
      this.#foldPool(ps);
      for (const ss of ps.servers) this.#foldServer(ps.name, ss);
    }
  }

  /**
   * Folds in what a worker's pools and servers had counted when, from `before` to `now`, they
   * left its snapshot or started again (a pool reopened on another address, a server removed
   * and added again): the new cumulative numbers add to the old ones rather than replace them.
   */
  #foldRestarted(before: WorkerSnapshot, now: WorkerSnapshot): void {
    for (const ps of before.pools) {
      const np = now.pools.find((p) => p.name === ps.name);
      if (np === undefined || wentBack(ps.counters, np.counters)) this.#foldPool(ps);
      for (const ss of ps.servers) {
        const ns = np?.servers.find((s) => s.name === ss.name);
        if (ns === undefined || wentBack(ss.counters, ns.counters)) this.#foldServer(ps.name, ss);
      }
    }
  }

  #retiredOf(pool: string): Retired {
    let r = this.#retired.get(pool);
    if (r === undefined) {
      r = { counters: emptyPoolCounters(), latency: latencyHistogram(), servers: new Map() };
      this.#retired.set(pool, r);
    }
    return r;
  }

  #foldPool(ps: PoolSnapshot): void {
    const r = this.#retiredOf(ps.name);
    addCounters(r.counters, ps.counters, false);
    addEncoded(r.latency, ps.latency);
  }

  #foldServer(pool: string, ss: ServerSnapshot): void {
    const r = this.#retiredOf(pool);
    let rs = r.servers.get(ss.name);
    if (rs === undefined) {
      rs = { counters: emptyServerCounters(), latency: latencyHistogram() };
      r.servers.set(ss.name, rs);
    }
    addCounters(rs.counters, ss.counters, false);
    addEncoded(rs.latency, ss.latency);
  }

  /** Merged view of every pool in `poolOrder` (names of the running config). */
  view(poolOrder: readonly { name: string; servers: readonly string[] }[]): PoolView[] {
    const pools = new Map<string, PoolView>();
    for (const p of poolOrder) {
      pools.set(p.name, {
        name: p.name,
        counters: emptyPoolCounters(),
        latency: latencyHistogram(),
        servers: p.servers.map((name) => ({
          name,
          counters: emptyServerCounters(),
          latency: latencyHistogram(),
        })),
        updatedAt: 0,
      });
    }
    for (const [name, r] of this.#retired) {
      const pv = pools.get(name);
      if (pv === undefined) continue;
      addCounters(pv.counters, r.counters, false);
      pv.latency.add(r.latency);
      for (const sv of pv.servers) {
        const rs = r.servers.get(sv.name);
        if (rs === undefined) continue;
        addCounters(sv.counters, rs.counters, false);
        sv.latency.add(rs.latency);
      }
    }
    const reporting = new Map<string, number>();
    for (const snapshot of this.#latest.values()) {
      for (const ps of snapshot.pools) {
        const pv = pools.get(ps.name);
        if (pv === undefined) continue;
        pv.updatedAt += snapshot.at;
        reporting.set(ps.name, (reporting.get(ps.name) ?? 0) + 1);
        addCounters(pv.counters, ps.counters, true);
        addEncoded(pv.latency, ps.latency);
        for (const ss of ps.servers) {
          const sv = pv.servers.find((s) => s.name === ss.name);
          if (sv === undefined) continue;
          addCounters(sv.counters, ss.counters, true);
          addEncoded(sv.latency, ss.latency);
        }
      }
    }
    for (const [name, n] of reporting) {
      const pv = pools.get(name);
      if (pv !== undefined) pv.updatedAt = Math.round(pv.updatedAt / n);
    }
    return [...pools.values()];
  }

  /**
   * Latency of the recent window per pool of `poolOrder`: per live worker, its latest
   * histograms less those of its oldest snapshot in the window (what a worker that died in
   * the window had counted is not in it).
   */
  recent(poolOrder: readonly { name: string; servers: readonly string[] }[]): RecentLatency[] {
    return poolOrder.map((p) => {
      const latency = latencyHistogram();
      const servers = p.servers.map(() => latencyHistogram());
      let spanMs = 0;
      let workers = 0;
      for (const [worker, latest] of this.#latest) {
        const base = this.#history.get(worker)?.[0] ?? latest;
        const now = latest.pools.find((ps) => ps.name === p.name);
        if (now === undefined) continue;
        const then = base === latest ? undefined : base.pools.find((ps) => ps.name === p.name);
        spanMs += latest.at - base.at;
        workers++;
        addDifference(latency, now.latency, then?.latency);
        for (const ss of now.servers) {
          const i = p.servers.indexOf(ss.name);
          if (i === -1) continue;
          const before = then?.servers.find((s) => s.name === ss.name)?.latency;
          addDifference(servers[i], ss.latency, before);
        }
      }
      return { windowMs: workers === 0 ? 0 : Math.round(spanMs / workers), latency, servers };
    });
  }

  /** The HTTP role over all workers, live and retired; the ingress engine the workers run. */
  http(): { totals: HttpTotals; engine: 'uws' | 'node' | null } {
    const totals = new HttpTotals();
    totals.merge(this.#httpRetired);
    let engine: 'uws' | 'node' | null = null;
    for (const s of this.#latest.values()) {
      if (s.http === undefined) continue;
      totals.add(s.http, true);
      engine = s.http.engine;
    }
    return { totals, engine };
  }

  /** Workers that have reported. */
  get reporting(): number {
    return this.#latest.size;
  }
}

/**
 * Adds `now − before` (two cumulative encoded histograms of one worker) into `into`. When
 * `before` is not contained in `now`, what recorded them started again within the window:
 * all of `now` is recent then.
 */
function addDifference(into: Histogram, now: string, before: string | undefined): void {
  if (before === undefined || before === now) {
    // No older snapshot, or nothing recorded since: all of `now` is recent only without a base.
    if (before === undefined) addEncoded(into, now);
    return;
  }
  const current = decodeHistogram(now);
  into.add(histogramDifference(current, decodeHistogram(before)) ?? current);
}
