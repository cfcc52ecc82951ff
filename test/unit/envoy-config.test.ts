// The Envoy dialect: the static bootstrap subset read as Envoy reads it (defaults, durations,
// wrappers, Percent), warnings for admin and access logs, and every refusal with its place.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, formatIssue } from '../../engine/config/errors.ts';
import { ENVOY_OUTLIER, ENVOY_THRESHOLDS, NO_LIMIT } from '../../engine/config/http-types.ts';
import { loadConfig, parseConfig } from '../../engine/config/load.ts';

const sample = fileURLToPath(new URL('../../config/envoy.yaml', import.meta.url));

/** A bootstrap with one listener on 8001 → cluster `backend`; `cluster` and `route` add lines. */
function yaml(
  o: {
    cluster?: string;
    route?: string;
    top?: string;
    hcm?: string;
    type?: string;
    address?: string;
  } = {},
): string {
  return `static_resources:
  listeners:
    - name: l
      address:
        socket_address: { address: 127.0.0.1, port_value: 8001 }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: s
${o.hcm ?? ''}                route_config:
                  virtual_hosts:
                    - name: v
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route:
                            cluster: backend
${o.route ?? ''}                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: backend
      type: ${o.type ?? 'STATIC'}
      load_assignment:
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: ${o.address ?? '127.0.0.1'}, port_value: 8080 }
${o.cluster ?? ''}${o.top ?? ''}`;
}

function refused(text: string): string[] {
  try {
    parseConfig(text, 'envoy.yaml', {});
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.issues.map(formatIssue);
  }
  assert.fail('expected a refusal');
}

test('the sample config/envoy.yaml: listener, route, cluster, limits, outlier detection', () => {
  const c = loadConfig(sample, {});
  assert.equal(c.dialect, 'envoy');
  const [block] = c.http.servers;
  assert.deepEqual(block.listen, [{ kind: 'tcp', host: '127.0.0.1', port: 8001 }]);
  const [loc] = block.locations;
  assert.equal(loc.prefix, '/');
  assert.equal(loc.proxy.upstream, 'backend');
  assert.equal(loc.proxy.connectTimeoutMs, 250);
  assert.deepEqual(loc.proxy.router, {
    timeoutMs: 5000,
    retry: {
      retryOn: ['connect-failure', 'gateway-error'],
      numRetries: 2,
      perTryTimeoutMs: 2000,
      retriableStatusCodes: [],
      backoffBaseMs: 25,
      backoffMaxMs: 250,
      retryNonIdempotent: false,
    },
  });
  const [u] = c.http.upstreams;
  assert.equal(u.servers[0].name, 'localhost:8080');
  const g = u.guard;
  assert.ok(g);
  assert.deepEqual(g.limits?.default, {
    ...ENVOY_THRESHOLDS,
    maxConnections: 100,
    maxPendingRequests: 100,
    maxRequests: 100,
    trackRemaining: true,
  });
  assert.deepEqual(g.limits?.high, ENVOY_THRESHOLDS, 'HIGH unnamed: Envoy defaults');
  assert.deepEqual(g.outlier, { ...ENVOY_OUTLIER, maxEjectionPercent: 100 });
  assert.equal(g.panicThreshold, 0);
  assert.deepEqual(g.discovery, { type: 'strict_dns', refreshMs: 5000 });
  assert.equal(c.admin.listen.kind === 'tcp' && c.admin.listen.port, 9901);
  assert.equal(c.warnings.length, 1);
  assert.match(
    formatIssue(c.warnings[0]),
    /envoy\.yaml:8:3: admin: Envoy's admin interface is not served/,
  );
});

test("Envoy's defaults: 1024 limits, no outlier detection, panic 50, 15 s route timeout, 5 s connect", () => {
  const c = parseConfig(yaml(), 'envoy.yaml', {});
  const [u] = c.http.upstreams;
  assert.deepEqual(u.guard?.limits, {
    default: ENVOY_THRESHOLDS,
    high: ENVOY_THRESHOLDS,
    perHost: { maxConnections: NO_LIMIT, maxRequests: NO_LIMIT },
  });
  assert.equal(u.guard?.outlier, null);
  assert.equal(u.guard?.panicThreshold, 50);
  assert.equal(u.balancer, 'round_robin');
  const loc = c.http.servers[0].locations[0];
  assert.deepEqual(loc.proxy.router, { timeoutMs: 15_000, retry: null });
  assert.equal(loc.proxy.connectTimeoutMs, 5000);
  assert.deepEqual(c.warnings, []);
});

test('durations, UInt32Value, Percent, retry budget, per-host thresholds, the first entry per priority', () => {
  const c = parseConfig(
    yaml({
      cluster: `      connect_timeout: 0.001s
      lb_policy: LEAST_REQUEST
      circuit_breakers:
        thresholds:
          - { max_requests: 7, retry_budget: { budget_percent: { value: 25.5 } } }
          - { priority: DEFAULT, max_requests: 9 }
          - { priority: HIGH, max_connections: "12" }
        per_host_thresholds:
          - { max_connections: 2 }
      outlier_detection: { interval: 0.5s, consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100 }
      common_lb_config: { healthy_panic_threshold: { value: 30 } }
`,
      route: `                            timeout: 0s
                            retry_policy:
                              retry_on: retriable-status-codes,reset
                              retriable_status_codes: [409, 503]
                              retry_back_off: { base_interval: 0.1s }
`,
    }),
    'envoy.yaml',
    {},
  );
  const g = c.http.upstreams[0].guard;
  assert.equal(c.http.upstreams[0].balancer, 'least_conn');
  assert.equal(g?.limits?.default.maxRequests, 7);
  assert.deepEqual(g?.limits?.default.retryBudget, { budgetPercent: 25.5, minRetryConcurrency: 3 });
  assert.equal(g?.limits?.high.maxConnections, 12);
  assert.deepEqual(g?.limits?.perHost, { maxConnections: 2, maxRequests: NO_LIMIT });
  assert.equal(g?.outlier?.intervalMs, 500);
  assert.equal(g?.outlier?.consecutiveGatewayFailure, 3);
  assert.equal(g?.outlier?.enforcingConsecutiveGatewayFailure, 100);
  assert.equal(g?.panicThreshold, 30);
  const loc = c.http.servers[0].locations[0];
  assert.equal(loc.proxy.connectTimeoutMs, 1);
  assert.equal(loc.proxy.router?.timeoutMs, 0);
  assert.deepEqual(loc.proxy.router?.retry?.retryOn, ['retriable-status-codes', 'reset']);
  assert.deepEqual(loc.proxy.router?.retry?.retriableStatusCodes, [409, 503]);
  assert.equal(loc.proxy.router?.retry?.backoffBaseMs, 100);
  assert.equal(loc.proxy.router?.retry?.backoffMaxMs, 1000, 'max defaults to 10 × base');
});

test('access logs are accepted with a warning', () => {
  const c = parseConfig(
    yaml({
      hcm: `                access_log:\n                  - name: envoy.access_loggers.stdout\n`,
    }),
    'envoy.yaml',
    {},
  );
  assert.equal(c.warnings.length, 1);
  assert.match(
    formatIssue(c.warnings[0]),
    /^envoy\.yaml:12:17: static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.access_log: accepted but not written/,
  );
});

test('refusals name file:line:column and the field path', () => {
  const cases: [Parameters<typeof yaml>[0], RegExp][] = [
    [
      { cluster: '      connect_timeout: 5\n' },
      /^envoy\.yaml:33:24: static_resources\.clusters\[0\]\.connect_timeout: expected a duration string like '5s'.*got 5$/,
    ],
    [
      { cluster: '      connect_timeout: 5 s\n' },
      /:33:24: static_resources\.clusters\[0\]\.connect_timeout: expected a duration like '0\.25s'/,
    ],
    [
      { cluster: '      conect_timeout: 1s\n' },
      /:33:7: static_resources\.clusters\[0\]\.conect_timeout: field 'conect_timeout' is not supported in a cluster \(did you mean 'connect_timeout'\?\)/,
    ],
    [
      { cluster: '      common_lb_config: { healthy_panic_threshold: 0 }\n' },
      /healthy_panic_threshold: expected a Percent like '\{value: 0\}', got 0$/,
    ],
    [
      { cluster: '      circuit_breakers: { thresholds: [ { max_requests: -1 } ] }\n' },
      /thresholds\[0\]\.max_requests: expected an unsigned integer, got -1$/,
    ],
    [
      { cluster: '      circuit_breakers: { thresholds: [ { max_requests: many } ] }\n' },
      /max_requests: expected an unsigned integer, got 'many'$/,
    ],
    [
      { cluster: '      outlier_detection: { max_ejection_percent: 150 }\n' },
      /max_ejection_percent: must be at most 100, got 150$/,
    ],
    [
      { cluster: '      lb_policy: MAGLEV\n' },
      /lb_policy: MAGLEV is not supported: use ROUND_ROBIN, LEAST_REQUEST or RANDOM$/,
    ],
    [{ type: 'EDS' }, /\.type: EDS is not supported: legate reads static bootstrap configs only/],
    [
      { address: 'backend.local' },
      /socket_address\.address: expected an IP address here \(a STATIC cluster or a listener\), got 'backend\.local'/,
    ],
    [
      { route: '                            retry_policy: { retry_on: "5xx,bogus" }\n' },
      /retry_on: retry_on 'bogus' is not supported/,
    ],
    [
      { top: 'node: { id: x }\n' },
      /^envoy\.yaml:\d+:1: node: field 'node' is not supported in an Envoy bootstrap/,
    ],
    [
      { hcm: '                codec_type: HTTP2\n' },
      /codec_type: HTTP2 is not supported: legate speaks HTTP\/1\.1 to clients$/,
    ],
  ];
  for (const [o, expected] of cases) {
    const found = refused(yaml(o));
    assert.ok(
      found.some((m) => expected.test(m)),
      `${expected} not in:\n${found.join('\n')}`,
    );
  }
});

test('a wrong @type, a missing router, an unknown cluster and a clash are refused', () => {
  const wrongType = yaml().replace('router.v3.Router', 'router.v3.Routr');
  assert.match(
    refused(wrongType).join('\n'),
    /typed_config\.@type: expected 'type\.googleapis\.com\/envoy\.extensions\.filters\.http\.router\.v3\.Router', got/,
  );
  const unknownCluster = yaml().replace('cluster: backend', 'cluster: nowhere');
  assert.match(
    refused(unknownCluster).join('\n'),
    /:19:38: .*route\.cluster: no cluster named 'nowhere'/,
  );
  const noFilters = yaml().replace(/ {16}http_filters:\n[\s\S]*?Router\n/, '');
  assert.match(refused(noFilters).join('\n'), /http_filters: 'http_filters' is required/);
  const clash = yaml({
    top: 'admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: 8001 } }\n',
  });
  assert.match(refused(clash).join('\n'), /address: 127\.0\.0\.1:8001 is already used by admin/);
});

test('detected by content: a YAML file with static_resources, whatever its name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'legate-envoy-'));
  const file = join(dir, 'proxy.conf');
  writeFileSync(file, readFileSync(sample));
  assert.equal(loadConfig(file, {}).dialect, 'envoy');
});

test('legate -t validates an envoy.yaml: ok with the warning, or each refusal and exit 1', () => {
  const node = process.execPath;
  const bin = fileURLToPath(new URL('../../bin/legate.js', import.meta.url));
  const ok = spawnSync(node, [bin, '-t', '-c', sample], { encoding: 'utf8' });
  assert.equal(ok.status, 0);
  assert.match(ok.stdout, /syntax is ok/);
  assert.match(ok.stderr, /warning: .*admin: Envoy's admin interface is not served/);
  const dir = mkdtempSync(join(tmpdir(), 'legate-envoy-'));
  const bad = join(dir, 'envoy.yaml');
  writeFileSync(bad, yaml({ cluster: '      connect_timeout: fast\n' }));
  const no = spawnSync(node, [bin, '-t', '-c', bad], { encoding: 'utf8' });
  assert.equal(no.status, 1);
  assert.match(
    no.stderr,
    /envoy\.yaml:33:24: static_resources\.clusters\[0\]\.connect_timeout: expected a duration/,
  );
});

test('more refusals: LOGICAL_DNS with two endpoints, a cluster twice, a retry_back_off without base, a second virtual host', () => {
  const twoEndpoints = yaml({ type: 'LOGICAL_DNS', address: 'backend' }).replace(
    '                    socket_address: { address: backend, port_value: 8080 }\n',
    '                    socket_address: { address: backend, port_value: 8080 }\n              - endpoint:\n                  address:\n                    socket_address: { address: backend2, port_value: 8080 }\n',
  );
  assert.match(
    refused(twoEndpoints).join('\n'),
    /load_assignment: a LOGICAL_DNS cluster takes exactly one endpoint/,
  );
  const twice = `${yaml()}    - name: backend\n      load_assignment: { endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9 } } } } ] } ] }\n`;
  assert.match(
    refused(twice).join('\n'),
    /clusters\[1\]: cluster 'backend' is defined twice \(first on line 25\)/,
  );
  const noBase = yaml({
    route: '                            retry_policy: { retry_back_off: { max_interval: 1s } }\n',
  });
  assert.match(
    refused(noBase).join('\n'),
    /retry_back_off\.base_interval: 'base_interval' is required/,
  );
  const twoHosts = yaml().replace(
    '                  virtual_hosts:\n',
    '                  virtual_hosts:\n                    - { name: w, domains: ["*"], routes: [] }\n',
  );
  assert.match(
    refused(twoHosts).join('\n'),
    /virtual_hosts\[1\]: legate reads one virtual host per route_config/,
  );
});

test('match.path is an exact route; a domain other than * is warned; STRICT_DNS takes names', () => {
  const c = parseConfig(
    yaml({ type: 'STRICT_DNS', address: 'backend.svc' })
      .replace('match: { prefix: "/" }', 'match: { path: "/health" }')
      .replace('domains: ["*"]', 'domains: ["api.example.com"]'),
    'envoy.yaml',
    {},
  );
  const [loc] = c.http.servers[0].locations;
  assert.equal(loc.prefix, '/health');
  assert.equal(loc.exact, true);
  assert.equal(c.http.upstreams[0].servers[0].host, 'backend.svc');
  assert.match(
    formatIssue(c.warnings[0]),
    /domains\[0\]: domain 'api\.example\.com' is not checked/,
  );
});
