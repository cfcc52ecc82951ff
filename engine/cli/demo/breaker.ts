import { createServer } from 'node:http';
import { type LocalServer, serveOnLoopback } from './local-server.ts';
import type { ConfigPart, Pod } from './pod.ts';
import type { ChosenPort } from './ports.ts';

export const BREAKER_TITLE = 'circuit breaker (Envoy)';

/** The flaky backend's rhythm: this many answers, then this many failures (503), and again. */
export const FLAKY = { ok: 10, failing: 5 } as const;

/** The classic breaker the demo configures (legate.yml `breaker:` on an upstream). */
export const DEMO_BREAKER = {
  failure_rate: 50,
  window: 10,
  minimum_calls: 5,
  open_for: '5s',
  half_open_calls: 2,
} as const;

/** A backend that answers FLAKY.ok requests, fails the next FLAKY.failing with 503, and so on. */
export function startFlakyBackend(): Promise<LocalServer> {
  let served = 0;
  const cycle = FLAKY.ok + FLAKY.failing;
  return serveOnLoopback(
    createServer((_req, res) => {
      served++;
      const failing = (served - 1) % cycle >= FLAKY.ok;
      res.writeHead(failing ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(`flaky backend: request ${served} ${failing ? 'failed on purpose' : 'ok'}\n`);
    }),
  );
}

/** An upstream with the classic breaker over the flaky backend, served on `port`. */
export function breakerPart(port: number, backendPort: number): ConfigPart {
  return {
    http: {
      upstreams: { flaky: { servers: [`127.0.0.1:${backendPort}`], breaker: DEMO_BREAKER } },
      servers: [{ listen: `127.0.0.1:${port}`, locations: [{ path: '/', upstream: 'flaky' }] }],
    },
  };
}

/** The seed's Envoy pod: the circuit breaker in front of a backend that fails now and then. */
export async function startBreakerPod(listen: ChosenPort): Promise<Pod> {
  const backend = await startFlakyBackend();
  const p = listen.port;
  return {
    title: BREAKER_TITLE,
    port: p,
    config: breakerPart(p, backend.port),
    notes: [
      ...(listen.note === null ? [] : [listen.note]),
      `backend: 127.0.0.1:${backend.port} answers ${FLAKY.ok} requests, then fails ${FLAKY.failing} with 503, and again`,
      `breaker: opens at ${DEMO_BREAKER.failure_rate}% failures of the last ${DEMO_BREAKER.window} calls (at least ${DEMO_BREAKER.minimum_calls}), answers 503 itself for ${DEMO_BREAKER.open_for}, then lets ${DEMO_BREAKER.half_open_calls} probes through`,
    ],
    tryIt: [
      `curl -si localhost:${p}/`,
      `for n in $(seq 20); do curl -s -o /dev/null -w '%{http_code} ' localhost:${p}/; done; echo`,
    ],
    stop: () => backend.stop(),
  };
}
