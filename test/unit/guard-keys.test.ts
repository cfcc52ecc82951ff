// The breaker's native keys (engine/config/guard-keys.ts): what a legate.yml upstream and route
// say plainly, with Envoy's and resilience4j's defaults for fields left out, and each refusal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineCounter, parseDocument } from 'yaml';
import { formatIssue } from '../../engine/config/errors.ts';
import { readRouteRouter, readUpstreamGuard } from '../../engine/config/guard-keys.ts';
import {
  CLASSIC_BREAKER_DEFAULTS,
  ENVOY_OUTLIER,
  ENVOY_THRESHOLDS,
  NO_LIMIT,
} from '../../engine/config/http-types.ts';
import { parseConfig } from '../../engine/config/load.ts';
import { readMap } from '../../engine/config/read.ts';
import { ConfigSource } from '../../engine/config/source.ts';

function read<T>(
  text: string,
  f: (m: Map<string, ReturnType<typeof entries>[number]>, src: ConfigSource) => T,
) {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const src = new ConfigSource('legate.yml', text, doc, lines);
  const value = f(new Map(entries(doc, src).map((e) => [e.key, e])), src);
  return { value, issues: src.issues.map(formatIssue) };
}

function entries(doc: ReturnType<typeof parseDocument>, src: ConfigSource) {
  return readMap(src.deref(doc.contents), {}, 'http.upstreams.backend', src, 'a mapping') ?? [];
}

test('no breaker keys: undefined (an nginx-like upstream)', () => {
  assert.equal(read('servers: []\n', readUpstreamGuard).value, undefined);
  assert.equal(read('servers: []\n', readRouteRouter).value, undefined);
});

test('limits, outlier_detection and breaker with defaults for what is left out', () => {
  const { value, issues } = read(
    `limits: { max_requests: 50, per_host: { max_connections: 4 }, retry_budget: { percent: 30 } }
outlier_detection: { consecutive_5xx: 3, interval: 500ms, base_ejection_time: 5s, max_ejection_percent: 100 }
panic_threshold: 0
breaker: { scope: host, failure_rate: 40, window: 30s, minimum_calls: 10, slow_call: { duration: 2s, rate: 80 }, open_for: 15s, half_open_calls: 3 }
`,
    readUpstreamGuard,
  );
  assert.deepEqual(issues, []);
  assert.deepEqual(value?.limits?.default, {
    ...ENVOY_THRESHOLDS,
    maxRequests: 50,
    retryBudget: { budgetPercent: 30, minRetryConcurrency: 3 },
  });
  assert.deepEqual(value?.limits?.perHost, { maxConnections: 4, maxRequests: NO_LIMIT });
  assert.deepEqual(value?.outlier, {
    ...ENVOY_OUTLIER,
    consecutive5xx: 3,
    intervalMs: 500,
    baseEjectionTimeMs: 5000,
    maxEjectionPercent: 100,
  });
  assert.equal(value?.panicThreshold, 0);
  assert.deepEqual(value?.breaker, {
    scope: 'host',
    failureRateThreshold: 40,
    window: { kind: 'time', size: 30 },
    minimumCalls: 10,
    slowCallMs: 2000,
    slowCallRateThreshold: 80,
    openMs: 15_000,
    halfOpenCalls: 3,
  });
  assert.deepEqual(
    read('breaker: {}\n', readUpstreamGuard).value?.breaker,
    CLASSIC_BREAKER_DEFAULTS,
  );
  assert.deepEqual(read('breaker: { window: 20 }\n', readUpstreamGuard).value?.breaker?.window, {
    kind: 'count',
    size: 20,
  });
});

test('route timeout and retry', () => {
  const { value, issues } = read(
    'timeout: 2s\nretry: { on: [5xx, reset], retries: 2, per_try_timeout: 500ms, status_codes: [409], backoff: { base: 10ms } }\n',
    readRouteRouter,
  );
  assert.deepEqual(issues, []);
  assert.deepEqual(value, {
    timeoutMs: 2000,
    retry: {
      retryOn: ['5xx', 'reset'],
      numRetries: 2,
      perTryTimeoutMs: 500,
      retriableStatusCodes: [409],
      backoffBaseMs: 10,
      backoffMaxMs: 100,
      retryNonIdempotent: false,
    },
  });
});

test('refusals with line, column and path', () => {
  const cases: [string, RegExp][] = [
    [
      'breaker: { failure_rate: 0 }\n',
      /^legate\.yml:1:26: http\.upstreams\.backend\.breaker\.failure_rate: must be at least 1, got 0$/,
    ],
    [
      'breaker: { window: 2.5s }\n',
      /breaker\.window: a time window is whole seconds up to 1h, got '2\.5s'$/,
    ],
    [
      'breaker: { window: [1] }\n',
      /breaker\.window: expected a number of calls \(100\) or a time in seconds \(30s\)/,
    ],
    ['breaker: { scope: pod }\n', /breaker\.scope: expected one of upstream, host; got 'pod'/],
    ['breaker: { open_for: soon }\n', /breaker\.open_for: expected a duration/],
    [
      'breaker: { half_open_cals: 3 }\n',
      /breaker\.half_open_cals: unknown key 'half_open_cals' in 'breaker' \(did you mean 'half_open_calls'\?\)/,
    ],
    ['limits: { max_requests: -1 }\n', /limits\.max_requests: must be at least 0, got -1/],
    [
      'outlier_detection: { max_ejection_percent: 101 }\n',
      /max_ejection_percent: must be at most 100, got 101/,
    ],
    ['panic_threshold: lots\n', /panic_threshold: expected an integer, got 'lots'/],
  ];
  for (const [text, expected] of cases) {
    const { issues } = read(text, readUpstreamGuard);
    assert.ok(
      issues.some((m) => expected.test(m)),
      `${expected} not in ${JSON.stringify(issues)}`,
    );
  }
  const { issues } = read('retry: { on: [5xx, sometimes] }\n', readRouteRouter);
  assert.match(
    issues.join('\n'),
    /retry\.on\[1\]: expected one of 5xx, gateway-error, connect-failure, reset, retriable-4xx, retriable-status-codes; got 'sometimes'/,
  );
});

test('in a legate.yml: an upstream with a breaker and limits, a location with timeout and retry', () => {
  const c = parseConfig(
    `http:
  upstreams:
    backend:
      servers: [127.0.0.1:8080]
      limits: { max_requests: 10 }
      breaker: { failure_rate: 50, window: 20, minimum_calls: 5, open_for: 10s, half_open_calls: 2 }
  servers:
    - listen: 127.0.0.1:8001
      locations:
        - { path: /, upstream: backend, timeout: 2s, retry: { on: [connect-failure], retries: 2 } }
`,
    'legate.yml',
    {},
  );
  const [u] = c.http.upstreams;
  assert.equal(u.guard?.limits?.default.maxRequests, 10);
  assert.equal(u.guard?.breaker?.openMs, 10_000);
  assert.equal(u.guard?.outlier, null);
  const [loc] = c.http.servers[0].locations;
  assert.equal(loc.proxy.router?.timeoutMs, 2000);
  assert.deepEqual(loc.proxy.router?.retry?.retryOn, ['connect-failure']);
  const plain = parseConfig(
    'http:\n  upstreams:\n    b: { servers: [127.0.0.1:8080] }\n  servers:\n    - { listen: 127.0.0.1:8001, locations: [{ path: /, upstream: b }] }\n',
    'legate.yml',
    {},
  );
  assert.equal(plain.http.upstreams[0].guard, undefined, 'no breaker keys: nginx-like');
  assert.equal(plain.http.servers[0].locations[0].proxy.router, undefined);
});
