import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../engine/config/errors.ts';
import type { HttpConfig } from '../../engine/config/http-types.ts';
import { loadConfig, parseConfig } from '../../engine/config/load.ts';
import { SEED_NGINX_CONF } from '../helpers/nginx.ts';

/** The model without `source` (which names the file and line each came from). */
function withoutSources(http: HttpConfig): unknown {
  return JSON.parse(JSON.stringify(http, (key, value) => (key === 'source' ? undefined : value)));
}

function messages(text: string): string[] {
  try {
    parseConfig(text, 'legate.yml', {});
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues.map((i) => `${i.line}:${i.column}: ${i.path}: ${i.message}`);
  }
  assert.fail('accepted');
}

describe('native http: section', () => {
  it('config/splitter.yml says what the seed’s nginx ConfigMap says', () => {
    const native = loadConfig('config/splitter.yml', {});
    const nginx = parseConfig(SEED_NGINX_CONF, 'nginx.conf', {});
    assert.equal(native.dialect, 'legate');
    assert.deepEqual(native.redis, []);
    assert.deepEqual(withoutSources(native.http), withoutSources(nginx.http));
  });

  it('reads every key', () => {
    const config = parseConfig(
      `http:
  engine: node
  upstreams:
    api:
      balancer: hash_consistent
      hash_key: $request_uri
      keepalive: 8
      servers:
        - 10.0.0.1:8080
        - { address: 10.0.0.2:8080, weight: 3, max_fails: 0, fail_timeout: 2500, max_conns: 50, down: true }
    web:
      balancer: least_conn
      sticky: { cookie: srv, expires: max, domain: .example.com, path: /, secure: true, httponly: true, samesite: strict }
      servers:
        - a:80
        - { address: b:80, backup: true }
  servers:
    - listen: [127.0.0.1:8080, '[::1]:8080']
      server_names: [example.com]
      default: true
      client_max_body_size: 10m
      client_header_timeout: 5000
      keepalive_timeout: 0
      real_ip: { trusted: [10.0.0.0/8], header: X-Forwarded-For, recursive: true }
      set_headers: { Host: $host }
      read_timeout: 30000
      locations:
        - { path: /api/, upstream: api, next_upstream: [error, timeout, http_503], next_upstream_tries: 2 }
        - path: /health
          exact: true
          upstream: web
          set_headers: { X-Variant: $variant, Connection: '' }
          http_version: '1.1'
          client_max_body_size: 0
  split_clients:
    variant:
      source: $remote_addr
      parts:
        - { percent: 10.5, value: exp }
        - { percent: '*', value: prod }
`,
      'legate.yml',
      {},
    );
    const http = config.http;
    assert.equal(http.engine, 'node');
    const api = http.upstreams[0];
    assert.deepEqual(
      [api.balancer, api.hashKey, api.keepalive],
      ['hash_consistent', '$request_uri', 8],
    );
    assert.deepEqual(
      api.servers.map((s) => [s.name, s.weight, s.maxFails, s.failTimeoutMs, s.maxConns, s.down]),
      [
        ['10.0.0.1:8080', 1, 1, 10000, 0, false],
        ['10.0.0.2:8080', 3, 0, 2500, 50, true],
      ],
    );
    assert.deepEqual(http.upstreams[1].sticky, {
      name: 'srv',
      expires: 'max',
      domain: '.example.com',
      path: '/',
      secure: true,
      httpOnly: true,
      sameSite: 'strict',
    });
    assert.equal(http.upstreams[1].servers[1].backup, true);
    const [server] = http.servers;
    assert.deepEqual(server.listen, [
      { kind: 'tcp', host: '127.0.0.1', port: 8080 },
      { kind: 'tcp', host: '::1', port: 8080 },
    ]);
    assert.deepEqual(
      [server.defaultServer, server.name, server.keepaliveTimeoutMs],
      [true, 'example.com', 0],
    );
    assert.equal(server.clientMaxBodySize, 10 * 1024 * 1024);
    assert.equal(server.clientHeaderTimeoutMs, 5000);
    assert.deepEqual(server.realIp, {
      trusted: ['10.0.0.0/8'],
      header: 'x-forwarded-for',
      recursive: true,
    });
    const [api1, health] = server.locations;
    assert.deepEqual(
      api1.proxy.setHeaders,
      [{ name: 'Host', value: '$host' }],
      'inherited from the server',
    );
    assert.equal(api1.proxy.readTimeoutMs, 30000);
    assert.deepEqual(api1.proxy.nextUpstream, ['error', 'timeout', 'http_503']);
    assert.equal(api1.clientMaxBodySize, 10 * 1024 * 1024);
    assert.deepEqual(health.proxy.setHeaders, [
      { name: 'X-Variant', value: '$variant' },
      { name: 'Connection', value: '' },
    ]);
    assert.deepEqual(
      [health.exact, health.proxy.uri, health.proxy.httpVersion, health.clientMaxBodySize],
      [true, null, '1.1', 0],
    );
    assert.deepEqual(http.splitClients, [
      {
        source: '$remote_addr',
        variable: 'variant',
        parts: [
          { percent: 10.5, value: 'exp' },
          { percent: '*', value: 'prod' },
        ],
      },
    ]);
  });

  it('refuses what nginx refuses and names what is wrong, with line and column', () => {
    const found = messages(`http:
  upstreams:
    b:
      balancer: ip_hash
      servers:
        - a:80
        - { address: c:80, backup: true }
    h:
      balancer: hashing
      servers: [a:80]
  servers:
    - listen: 127.0.0.1:8080
      locations:
        - { path: /, upstream: nowhere }
        - { path: /x }
        - { path: /y/, upstream: b, uri: /v1/ }
  split_clients:
    v:
      source: $remote_addr
      parts:
        - { percent: 60, value: a }
        - { percent: 50, value: b }
`);
    const expected = [
      /^7:11: http\.upstreams\.b\.servers\[1\]: balancer ip_hash does not support backup servers/,
      /^9:17: http\.upstreams\.h\.balancer: expected one of round_robin, ip_hash, hash, hash_consistent, least_conn, random; got 'hashing'/,
      /^14:32: http\.servers\[0\]\.locations\[0\]\.upstream: no upstream named 'nowhere' \(upstreams: b\)/,
      /^15:11: http\.servers\[0\]\.locations\[1\]: a location needs 'path' .* and 'upstream'/,
      /^16:37: http\.servers\[0\]\.locations\[2\]\.uri: 'uri' is not supported: legate passes the client's URI unchanged/,
      /^22:22: http\.split_clients\.v\.parts\[1\]\.percent: the percentages add up to more than 100/,
    ];
    for (const pattern of expected) {
      assert.ok(
        found.some((m) => pattern.test(m)),
        `${pattern} in\n${found.join('\n')}`,
      );
    }
    assert.equal(found.length, expected.length, found.join('\n'));
  });
});
