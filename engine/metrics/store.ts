import { addEncoded, type Histogram, latencyHistogram } from './histogram.ts';
import {
  emptyPoolCounters,
  emptyServerCounters,
  GAUGES,
  type PoolCounters,
  type ServerCounters,
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
}

function addCounters<T extends object>(into: T, from: T, includeGauges: boolean): void {
  const target = into as Record<string, number>;
  for (const [k, v] of Object.entries(from as Record<string, number>)) {
    if (includeGauges || !GAUGES.has(k)) target[k] = (target[k] ?? 0) + v;
  }
}

/**
 * The main thread's merge of the workers' snapshots: the latest from each live worker, plus
 * what workers that died had counted (their gauges die with them, their counters do not).
 */
export class MetricsStore {
  readonly #latest = new Map<number, WorkerSnapshot>();
  /** Counters and histograms of workers that were replaced. */
  #retired: WorkerSnapshot[] = [];

  update(snapshot: WorkerSnapshot): void {
    this.#latest.set(snapshot.worker, snapshot);
  }

  /** A worker died: keep what it counted, drop its gauges with its connections. */
  retire(worker: number): void {
    const last = this.#latest.get(worker);
    if (last === undefined) return;
    this.#latest.delete(worker);
    this.#retired.push(last);
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
      });
    }
    const add = (snapshot: WorkerSnapshot, live: boolean) => {
      for (const ps of snapshot.pools) {
        const pv = pools.get(ps.name);
        if (pv === undefined) continue;
        addCounters(pv.counters, ps.counters, live);
        addEncoded(pv.latency, ps.latency);
        for (const ss of ps.servers) {
          const sv = pv.servers.find((s) => s.name === ss.name);
          if (sv === undefined) continue;
          addCounters(sv.counters, ss.counters, live);
          addEncoded(sv.latency, ss.latency);
        }
      }
    };
    for (const s of this.#retired) add(s, false);
    for (const s of this.#latest.values()) add(s, true);
    return [...pools.values()];
  }

  /** Workers that have reported. */
  get reporting(): number {
    return this.#latest.size;
  }
}
