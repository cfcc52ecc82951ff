// The breaker's own answers on the uWebSockets.js ingress: Envoy's overflow 503 and its headers,
// the open circuit's 503 with Retry-After, `no healthy upstream`, `upstream request timeout`.
// Runs where uWS loads (scripts/uws-lane.sh runs it in the Debian 13 root on older hosts).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CLASSIC_BREAKER_DEFAULTS, ENVOY_OUTLIER } from '../../engine/config/http-types.ts';
import type { HttpProxy } from '../../workers/http/proxy.ts';
import {
  ControlledBackend,
  get,
  guardedConfig,
  limitsOf,
  NO_LIMITS,
  startGuarded,
} from '../helpers/breaker.ts';
import { UWS_REQUIRED, uwsLoadError } from './uws-here.ts';

process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= '32768';
const loadError = uwsLoadError();
if (loadError !== null && UWS_REQUIRED)
  throw new Error(`uWebSockets.js must load here but does not: ${loadError}`);

describe('breaker answers on the uws engine', {
  skip: loadError === null ? false : `uWebSockets.js does not load here (${loadError})`,
}, () => {
  const proxies: HttpProxy[] = [];
  const backends: ControlledBackend[] = [];
  after(async () => {
    for (const p of proxies) await p.close();
    for (const b of backends) await b.stop();
  });

  async function backend(): Promise<ControlledBackend> {
    const b = await ControlledBackend.start();
    backends.push(b);
    return b;
  }

  it('overflow: 503, x-envoy-overloaded, text/plain, Envoy body', async () => {
    const b = await backend();
    b.mode = 'hang';
    const limits = { ...NO_LIMITS, maxRequests: 1 };
    const run = await startGuarded((port) =>
      guardedConfig(
        port,
        [b.port],
        {
          limits: limitsOf(limits),
        },
        undefined,
        'uws',
      ),
    );
    proxies.push(...run.proxies);
    assert.equal(run.proxies[0].engine, 'uws');
    const first = get(run.port);
    while (b.hits === 0) await new Promise((r) => setTimeout(r, 5));
    const a = await get(run.port);
    assert.equal(a.status, 503);
    assert.equal(a.headers.get('x-envoy-overloaded'), 'true');
    assert.equal(a.headers.get('content-type'), 'text/plain');
    assert.equal(
      a.body,
      'upstream connect error or disconnect/reset before headers. reset reason: overflow',
    );
    b.releaseHung();
    assert.equal((await first).status, 200);
  });

  it('open circuit: 503 with Retry-After and x-legate-circuit; no healthy upstream; timeout', async () => {
    const b = await backend();
    b.mode = 500;
    const breaker = {
      ...CLASSIC_BREAKER_DEFAULTS,
      window: { kind: 'count' as const, size: 4 },
      minimumCalls: 2,
      openMs: 5000,
    };
    const run = await startGuarded((port) =>
      guardedConfig(port, [b.port], { breaker }, undefined, 'uws'),
    );
    proxies.push(...run.proxies);
    await get(run.port);
    await get(run.port);
    const open = await get(run.port);
    assert.equal(open.status, 503);
    assert.equal(open.headers.get('x-legate-circuit'), 'open');
    assert.equal(open.headers.get('retry-after'), '5');

    const outlier = { ...ENVOY_OUTLIER, consecutive5xx: 1, maxEjectionPercent: 100 };
    const ejecting = await startGuarded((port) =>
      guardedConfig(port, [b.port], { outlier, panicThreshold: 0 }, undefined, 'uws'),
    );
    proxies.push(...ejecting.proxies);
    await get(ejecting.port);
    const none = await get(ejecting.port);
    assert.equal(none.status, 503);
    assert.equal(none.body, 'no healthy upstream');

    b.mode = 'hang';
    const slow = await startGuarded((port) =>
      guardedConfig(port, [b.port], {}, { timeoutMs: 150, retry: null }, 'uws'),
    );
    proxies.push(...slow.proxies);
    const t = await get(slow.port);
    assert.equal(t.status, 504);
    assert.equal(t.body, 'upstream request timeout');
  });
});
