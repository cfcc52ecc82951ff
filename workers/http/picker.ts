import type { UpstreamConfig } from '../../engine/config/http-types.ts';

/** What a balancer may look at to choose a server for one request. */
export interface PickContext {
  /** The client's address as the socket gives it (before any real_ip rewriting). */
  readonly remoteAddress: string;
  readonly method: string;
  /** The raw request URI. */
  readonly uri: string;
  /** A request header by lower-case name; the first value when repeated. */
  header(name: string): string | undefined;
}

/** Servers already tried for this request, by index (nginx's `tried` bitmap). */
export type Tried = Uint8Array;

/**
 * Chooses a server of one upstream for each request. H7's nginx balancers (workers/http/balance/)
 * implement this over peer state in shared memory; `SmoothRoundRobin` below stands in until then.
 */
export interface Picker {
  /** A server index, or -1 when no server is usable (nginx: 502, "no live upstreams"). */
  pick(ctx: PickContext, tried: Tried): number;
  /** The outcome of one try on `server`: `failed` is a connection error or timeout. */
  done(server: number, failed: boolean): void;
}

export type PickerFactory = (upstream: UpstreamConfig) => Picker;

/**
 * A placeholder until the exact balancers land: nginx's smooth weighted round robin over the
 * servers not `down`, not tried, per worker, with no passive health.
 */
export class SmoothRoundRobin implements Picker {
  readonly #weights: Int32Array;
  readonly #current: Int32Array;
  readonly #usable: Uint8Array;

  constructor(upstream: UpstreamConfig) {
    const n = upstream.servers.length;
    this.#weights = new Int32Array(n);
    this.#current = new Int32Array(n);
    this.#usable = new Uint8Array(n);
    const anyPrimary = upstream.servers.some((s) => !s.backup && !s.down);
    for (let i = 0; i < n; i++) {
      const s = upstream.servers[i];
      this.#weights[i] = s.weight;
      this.#usable[i] = !s.down && (anyPrimary ? !s.backup : true) ? 1 : 0;
    }
  }

  pick(_ctx: PickContext, tried: Tried): number {
    let best = -1;
    let total = 0;
    const current = this.#current;
    for (let i = 0; i < current.length; i++) {
      if (this.#usable[i] === 0 || (tried.length > i && tried[i] !== 0)) continue;
      current[i] += this.#weights[i];
      total += this.#weights[i];
      if (best === -1 || current[i] > current[best]) best = i;
    }
    if (best !== -1) current[best] -= total;
    return best;
  }

  done(): void {}
}

export const placeholderPickers: PickerFactory = (upstream) => new SmoothRoundRobin(upstream);
