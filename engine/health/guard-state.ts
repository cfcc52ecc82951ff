import type { HttpConfig, UpstreamConfig, UpstreamGuard } from '../config/http-types.ts';
import type { Logger } from '../log.ts';
import {
  allocateBreaker,
  BreakerMemory,
  guardLayout,
  wallClock,
} from '../shared/breaker-memory.ts';
import { outlierTick } from './outlier.ts';

/**
 * What the main thread keeps for one guarded upstream: its shared memory (kept across a reload
 * that leaves its servers and breaker shape alone, so circuits and ejections survive it) and
 * the outlier detector's interval timer. The timer runs here, on the main thread, not in a
 * worker: it must run once per interval whatever the number of workers, it resets the interval
 * counters (one writer), and a busy worker's event loop would delay it.
 */
export class GuardState {
  readonly upstream: UpstreamConfig;
  readonly guard: UpstreamGuard;
  readonly mem: BreakerMemory;
  #timer: NodeJS.Timeout | null = null;

  /** `workers`: the data-plane threads, each keeping its shares of the counts in the memory. */
  constructor(
    upstream: UpstreamConfig,
    guard: UpstreamGuard,
    workers: number,
    previous?: GuardState,
  ) {
    this.upstream = upstream;
    this.guard = guard;
    const layout = guardLayout(upstream, guard);
    const same = (p: GuardState) =>
      p.mem.fits(layout, workers) &&
      p.upstream.servers.every((s, i) => {
        const n = upstream.servers[i];
        return s.name === n?.name && s.host === n.host && s.port === n.port;
      });
    this.mem =
      previous !== undefined && same(previous)
        ? previous.mem
        : new BreakerMemory(allocateBreaker(layout, workers), layout);
  }

  /** Starts the interval timer (outlier detection only). */
  start(log: Logger): void {
    const outlier = this.guard.outlier;
    if (outlier === null || this.#timer !== null) return;
    this.#timer = setInterval(() => {
      const report = outlierTick(this.mem, outlier, wallClock());
      for (const host of report.released)
        log.info(
          { upstream: this.upstream.name, host: this.upstream.servers[host].name },
          'outlier ejection ended',
        );
      for (const e of report.ejected)
        log.warn(
          { upstream: this.upstream.name, host: this.upstream.servers[e.host].name, type: e.type },
          'outlier ejected',
        );
    }, outlier.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Whether the interval timer runs. */
  get running(): boolean {
    return this.#timer !== null;
  }
}

/** Every guarded upstream of a config, keeping what a previous generation had. */
export function guardStates(
  config: HttpConfig,
  workers: number,
  previous: ReadonlyMap<string, GuardState> = new Map(),
): Map<string, GuardState> {
  const states = new Map<string, GuardState>();
  for (const u of config.upstreams) {
    if (u.guard === undefined) continue;
    states.set(u.name, new GuardState(u, u.guard, workers, previous.get(u.name)));
  }
  return states;
}

/**
 * A reload on the main thread: the next generation's states (keeping memory where it fits),
 * the old timers stopped before the new ones start, so no cluster ticks twice.
 */
export function reloadGuardStates(
  previous: ReadonlyMap<string, GuardState>,
  config: HttpConfig,
  workers: number,
  log: Logger,
): Map<string, GuardState> {
  const next = guardStates(config, workers, previous);
  for (const s of previous.values()) s.stop();
  for (const s of next.values()) s.start(log);
  return next;
}

/** What workers get: each guarded upstream's buffer by name. */
export function guardBuffers(
  states: ReadonlyMap<string, GuardState>,
): Record<string, SharedArrayBuffer> {
  const out: Record<string, SharedArrayBuffer> = {};
  for (const [name, s] of states) out[name] = s.mem.sab;
  return out;
}
