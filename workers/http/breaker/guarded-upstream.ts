import type { UpstreamConfig, UpstreamGuard } from '../../../engine/config/http-types.ts';
import { routable } from '../../../engine/health/outlier.ts';
import type { Logger } from '../../../engine/log.ts';
import {
  allocateBreaker,
  BreakerMemory,
  C,
  CIRCUIT_STATES,
  guardLayout,
  H,
} from '../../../engine/shared/breaker-memory.ts';
import { Circuits } from '../../../engine/shared/circuit.ts';
import { HostConnections } from './host-connections.ts';

/**
 * One guarded upstream in one worker: its hosts' connections (counted in shared memory), the
 * host choice (Envoy's lb_policy over the hosts outlier detection has not ejected, with the
 * panic rule), and the classic circuits. The shared state comes from the main thread
 * (engine/health/guard-state.ts); a proxy started alone (tests, one worker) makes its own.
 */
export class GuardedUpstream {
  readonly config: UpstreamConfig;
  readonly guard: UpstreamGuard;
  readonly mem: BreakerMemory;
  readonly hosts: readonly HostConnections[];
  readonly circuits: Circuits | null;
  readonly log: Logger;
  readonly #candidates: Int32Array;
  /** Smooth weighted round robin's running weights, per host, in this worker. */
  readonly #current: Int32Array;

  constructor(
    config: UpstreamConfig,
    guard: UpstreamGuard,
    sab: SharedArrayBuffer | undefined,
    worker: number,
    connectTimeoutMs: number,
    log: Logger,
  ) {
    this.config = config;
    this.guard = guard;
    this.log = log;
    const layout = guardLayout(config, guard);
    this.mem = new BreakerMemory(sab ?? allocateBreaker(layout, worker + 1), layout, worker);
    this.hosts = config.servers.map((s, i) => {
      const host = s.host.includes(':') ? `[${s.host}]` : s.host;
      return new HostConnections(
        i,
        `http://${host}:${s.port}`,
        this.mem,
        guard.limits,
        connectTimeoutMs,
      );
    });
    const breaker = guard.breaker;
    this.circuits =
      breaker === null
        ? null
        : new Circuits(this.mem, breaker, (circuit, from, to) => {
            const where = breaker.scope === 'host' ? config.servers[circuit].name : config.name;
            log.warn(
              {
                upstream: config.name,
                circuit: where,
                from: CIRCUIT_STATES[from],
                to: CIRCUIT_STATES[to],
              },
              `circuit ${where} ${CIRCUIT_STATES[from]} -> ${CIRCUIT_STATES[to]}`,
            );
          });
    this.#candidates = new Int32Array(config.servers.length);
    this.#current = new Int32Array(config.servers.length);
  }

  /** The circuit that guards `host`. */
  circuitOf(host: number): number {
    return this.guard.breaker?.scope === 'host' ? host : 0;
  }

  /**
   * A host for the next try, by lb_policy among the routable hosts (all of them in panic);
   * -1: none is healthy (Envoy: 503 no healthy upstream). `skip`: hosts whose circuit refused.
   */
  pick(skip: Uint8Array | null): number {
    const mem = this.mem;
    const out = this.#candidates;
    let n =
      this.guard.outlier === null ? this.#all(out) : routable(mem, this.guard.panicThreshold, out);
    if (skip !== null) {
      let kept = 0;
      for (let i = 0; i < n; i++) if (skip[out[i]] === 0) out[kept++] = out[i];
      n = kept;
    }
    if (n === 0) {
      // Counted once a request: a retry of the choice (per-host circuits) is not another one.
      if (skip === null) mem.add(C.NO_HEALTHY, 1);
      return -1;
    }
    const balancer = this.config.balancer;
    if (balancer === 'random' && !this.config.randomTwo) return this.#weightedRandom(out, n);
    if (balancer === 'least_conn' || (balancer === 'random' && this.config.randomTwo)) {
      // Envoy's LEAST_REQUEST: the better of two random choices (choice_count 2), by active requests.
      const a = this.#weightedRandom(out, n);
      const b = this.#weightedRandom(out, n);
      return mem.load(mem.h(b, H.RQ)) < mem.load(mem.h(a, H.RQ)) ? b : a;
    }
    return this.#smoothRoundRobin(out, n);
  }

  /** Weighted round robin (load_balancing_weight), smooth as nginx's: equal weights take turns. */
  #smoothRoundRobin(out: Int32Array, n: number): number {
    const current = this.#current;
    const servers = this.config.servers;
    let best = -1;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const h = out[i];
      current[h] += servers[h].weight;
      total += servers[h].weight;
      if (best === -1 || current[h] > current[best]) best = h;
    }
    current[best] -= total;
    return best;
  }

  #weightedRandom(out: Int32Array, n: number): number {
    const servers = this.config.servers;
    let total = 0;
    for (let i = 0; i < n; i++) total += servers[out[i]].weight;
    let r = Math.random() * total;
    for (let i = 0; i < n; i++) {
      r -= servers[out[i]].weight;
      if (r < 0) return out[i];
    }
    return out[n - 1];
  }

  #all(out: Int32Array): number {
    for (let i = 0; i < out.length; i++) out[i] = i;
    return out.length;
  }

  /** A reload: what is in flight or pending finishes on the old connections, which then close. */
  close(): void {
    for (const h of this.hosts) h.close();
  }

  /** Shutdown: every connection cut now. */
  async destroy(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.destroy()));
  }
}
