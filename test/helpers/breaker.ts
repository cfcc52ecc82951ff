// Breaker test parts: a backend the test switches between healthy, failing, hanging and slow,
// guarded HttpConfigs, and proxy units started in this process that share the breaker's memory
// as two workers would (the main thread's GuardState makes it; this thread plays the main thread).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Worker } from 'node:worker_threads';
import {
  type ClusterLimits,
  ENVOY_THRESHOLDS,
  type EnvoyRouter,
  type HttpConfig,
  type LimitThresholds,
  NEUTRAL_GUARD,
  NO_LIMIT,
  type RetryPolicy,
  type UpstreamGuard,
} from '../../engine/config/http-types.ts';
import type { GuardState } from '../../engine/health/guard-state.ts';
import { createLogger, type Logger } from '../../engine/log.ts';
import { HttpRole } from '../../engine/roles/http.ts';
import type { HttpShared } from '../../engine/supervisor/protocol.ts';
import { HttpProxy } from '../../workers/http/proxy.ts';
import { Backend, httpConfig, serverSpec } from './http.ts';
import { freePort } from './processes.ts';

/** 'ok': 200; a number: that status; 'hang': never answers; slowMs: 200 after that long. */
export type Mode = 'ok' | number | 'hang' | { slowMs: number };

/** A backend whose answer the test sets; counts requests and the most in flight at once. */
export class ControlledBackend {
  mode: Mode = 'ok';
  hits = 0;
  inFlight = 0;
  maxInFlight = 0;

  readonly hung: ServerResponse[] = [];
  backend!: Backend;

  static async start(): Promise<ControlledBackend> {
    const c = new ControlledBackend();
    c.backend = await Backend.start((req, res) => c.#handle(req, res));
    return c;
  }

  get port(): number {
    return this.backend.port;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.hits++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => this.inFlight--);
    req.resume();
    const mode = this.mode;
    if (mode === 'hang') {
      this.hung.push(res);
      return;
    }
    const answer = () => {
      const status = typeof mode === 'number' ? mode : 200;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': 2 });
      res.end(status === 200 ? 'ok' : 'no');
    };
    if (typeof mode === 'object') setTimeout(answer, mode.slowMs);
    else answer();
  }

  /** Answers every hung request with 200. */
  releaseHung(): void {
    for (const res of this.hung.splice(0)) {
      if (res.destroyed) continue;
      res.writeHead(200, { 'content-length': 2 });
      res.end('ok');
    }
  }

  async stop(): Promise<void> {
    this.releaseHung();
    await this.backend.stop();
  }
}

/** Envoy's overflow body (x-envoy-overloaded): what a request over a limit is answered. */
export const OVERFLOW_BODY =
  'upstream connect error or disconnect/reset before headers. reset reason: overflow';

export const NO_LIMITS = {
  ...ENVOY_THRESHOLDS,
  maxConnections: NO_LIMIT,
  maxPendingRequests: NO_LIMIT,
  maxRequests: NO_LIMIT,
  maxRetries: NO_LIMIT,
};

/** Cluster limits with `t` for both priorities and no per-host limit. */
export function limitsOf(t: LimitThresholds): ClusterLimits {
  return { default: t, high: t, perHost: { maxConnections: NO_LIMIT, maxRequests: NO_LIMIT } };
}

export function retryPolicy(p: Partial<RetryPolicy>): RetryPolicy {
  return {
    retryOn: ['5xx'],
    numRetries: 1,
    perTryTimeoutMs: 0,
    retriableStatusCodes: [],
    backoffBaseMs: 25,
    backoffMaxMs: 250,
    retryNonIdempotent: false,
    ...p,
  };
}

/** One upstream (`backend`) of the given ports with a guard, one server block with `location /`. */
export function guardedConfig(
  port: number,
  backends: readonly number[],
  guard: Partial<UpstreamGuard>,
  router: EnvoyRouter = { timeoutMs: 15_000, retry: null },
  engine: 'node' | 'uws' = 'node',
): HttpConfig {
  const base = httpConfig(port, {
    engine,
    servers: backends.map((p, i) => serverSpec(`h${i}`, p)),
    connectTimeoutMs: 1000,
  });
  const [u] = base.upstreams;
  const [block] = base.servers;
  const [loc] = block.locations;
  return {
    ...base,
    upstreams: [{ ...u, guard: { ...NEUTRAL_GUARD, ...guard } }],
    servers: [{ ...block, locations: [{ ...loc, proxy: { ...loc.proxy, router } }] }],
  };
}

/** `units` proxy units on one port sharing one breaker memory, as `units` workers would. */
export async function startGuarded(
  make: (port: number) => HttpConfig,
  units = 1,
  log: Logger = createLogger('error'),
): Promise<{
  proxies: HttpProxy[];
  port: number;
  states: Map<string, GuardState>;
  shared: HttpShared;
}> {
  const port = await freePort();
  const config = make(port);
  // The main thread's part, as the engine keeps it (engine/roles/http.ts).
  const role = new HttpRole(config, 1);
  const proxies: HttpProxy[] = [];
  for (let i = 0; i < units; i++) {
    const proxy = new HttpProxy(config, role.shared, log);
    await proxy.listen();
    proxies.push(proxy);
  }
  return { proxies, port, states: role.guards, shared: role.shared };
}

/** `count` worker threads each serving `config` on the same port, sharing the breaker memory. */
export async function startGuardedWorkers(
  make: (port: number) => HttpConfig,
  count: number,
): Promise<{ port: number; states: Map<string, GuardState>; stop: () => Promise<void> }> {
  const port = await freePort();
  const config = make(port);
  const role = new HttpRole(config, 1);
  const states = role.guards;
  const workers = await Promise.all(
    Array.from({ length: count }, async () => {
      const w = new Worker(new URL('./guarded-worker.ts', import.meta.url), {
        workerData: { config, shared: role.shared },
      });
      await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      return w;
    }),
  );
  return {
    port,
    states,
    async stop() {
      await Promise.all(
        workers.map(async (w) => {
          const closed = new Promise((r) => w.once('message', r));
          w.postMessage('stop');
          await closed;
          await w.terminate();
        }),
      );
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  readonly ms: number;
}

/** One request with fetch (a new connection each, so SO_REUSEPORT spreads them over the units). */
export async function get(port: number, path = '/', method = 'GET'): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { connection: 'close' },
    body: method === 'POST' ? '' : undefined,
  });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body, ms: performance.now() - started };
}
