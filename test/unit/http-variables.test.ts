// biome-ignore-all lint/suspicious/noTemplateCurlyInString: nginx variables are written ${name}; these tests quote them.
// nginx variables as the HTTP role evaluates them (workers/http/variables.ts): the ones a
// proxy_set_header value or a `hash` key may name, split_clients variables, the real client
// address behind trusted proxies, and unknown names refused where they are written.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../engine/config/load.ts';
import { RealIp } from '../../workers/http/balance/real-ip.ts';
import { SplitClients } from '../../workers/http/balance/split-clients.ts';
import {
  compileValue,
  evaluate,
  RequestVariables,
  splitClientsScope,
} from '../../workers/http/variables.ts';

function request(remoteAddress: string, rawHeaders: string[] = [], uri = '/a?b=1') {
  return new RequestVariables(
    { method: 'GET', uri, rawHeaders, remoteAddress, remotePort: 5555 },
    'backend',
    8080,
  );
}

describe('nginx variables', () => {
  it('$binary_remote_addr is the 4 or 16 address bytes', () => {
    const t = compileValue('$binary_remote_addr', 'test');
    assert.deepEqual(
      Buffer.from(evaluate(t, request('10.0.0.1')), 'latin1'),
      Buffer.from([10, 0, 0, 1]),
    );
    const v6 = Buffer.from(evaluate(t, request('2001:db8::1')), 'latin1');
    assert.equal(v6.length, 16);
    assert.equal(v6.toString('hex'), '20010db8000000000000000000000001');
  });

  it('$arg_NAME: the first NAME= argument, raw, the name without case; empty when absent', () => {
    const arg = (name: string, uri: string) =>
      evaluate(compileValue(`$arg_${name}`, 'test'), request('10.0.0.1', [], uri));
    assert.equal(arg('k', '/x?k=42'), '42');
    assert.equal(arg('k', '/x?a=1&K=a%20b&k=2'), 'a%20b');
    assert.equal(arg('k', '/x?kk=1&k='), '');
    assert.equal(arg('k', '/x?k'), '');
    assert.equal(arg('k', '/x'), '');
  });

  it('headers, cookies, the URI and the proxy host', () => {
    const r = request('127.0.0.9', [
      'Host',
      'Example.com:8080',
      'Cookie',
      'a=1; session=xyz',
      'X-Forwarded-For',
      '1.2.3.4',
      'User-Agent',
      'curl',
    ]);
    const t = compileValue(
      '$host|${http_user_agent}|$cookie_session|$request_uri|$args|$proxy_host|$server_port|$proxy_add_x_forwarded_for',
      'test',
    );
    assert.equal(evaluate(t, r), 'example.com|curl|xyz|/a?b=1|b=1|backend|8080|1.2.3.4, 127.0.0.9');
  });

  it('split_clients variables hash their evaluated source as nginx does', () => {
    const config = {
      source: '${remote_addr}AAA',
      variable: 'variant',
      parts: [
        { percent: 50, value: 'experiment' },
        { percent: '*' as const, value: 'prod' },
      ],
    };
    const t = compileValue('$variant', 'test', splitClientsScope([config]));
    const split = SplitClients.fromConfig(config);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const address = `10.0.${i}.7`;
      const value = evaluate(t, request(address));
      assert.equal(value, split.value(Buffer.from(`${address}AAA`)));
      seen.add(value);
    }
    assert.deepEqual(seen, new Set(['experiment', 'prod']));
  });

  it('real_ip: a trusted connection takes the address its header names, for $remote_addr', () => {
    const realIp = new RealIp({
      trusted: ['127.0.0.0/8'],
      header: 'x-forwarded-for',
      recursive: false,
    });
    const from = (remote: string) =>
      new RequestVariables(
        {
          method: 'GET',
          uri: '/',
          rawHeaders: ['X-Forwarded-For', '9.9.9.9'],
          remoteAddress: remote,
          remotePort: 1,
        },
        'b',
        80,
        realIp,
      ).remoteAddress;
    assert.equal(from('127.0.0.1'), '9.9.9.9');
    assert.equal(from('10.0.0.1'), '10.0.0.1');
  });

  it('an unknown variable is refused, saying where', () => {
    assert.throws(
      () => compileValue('x-$nope', 'upstream b hash'),
      /upstream b hash: unknown variable \$nope/,
    );
  });
});

describe('unknown variables are refused when the config is read (legate -t)', () => {
  it('in an nginx.conf: hash key and proxy_set_header, each named with its path', () => {
    const text =
      'upstream b {\n  hash $nope;\n  server 127.0.0.1:1;\n  server 127.0.0.1:2;\n}\n' +
      'server {\n  listen 127.0.0.1:8080;\n  location / {\n    proxy_pass http://b;\n    proxy_set_header X-A "v=$cookie_a $bad";\n  }\n}\n';
    assert.throws(
      () => parseConfig(text, 'n.conf', {}),
      (err: Error) =>
        /http\.upstreams\.b\.hash_key: unknown variable \$nope/.test(err.message) &&
        /set_headers\.X-A: unknown variable \$bad in "v=\$cookie_a \$bad"/.test(err.message),
    );
  });

  it('engine uws refuses $remote_port and keepalive_timeout 0 (uWS cannot do them); auto and node take both', () => {
    const yaml = (engine: string) =>
      `http:\n  engine: ${engine}\n  upstreams:\n    b:\n      servers: [127.0.0.1:1]\n  servers:\n    - listen: 127.0.0.1:8080\n      keepalive_timeout: 0\n      locations:\n        - { path: /, upstream: b, set_headers: { X-Port: $remote_port } }\n`;
    assert.throws(
      () => parseConfig(yaml('uws'), 'l.yml', {}),
      (err: Error) =>
        /set_headers\.X-Port: \$remote_port: uWebSockets\.js 20\.57 does not report a client's port; set http\.engine to node or auto/.test(
          err.message,
        ) &&
        /http\.servers\[0\]\.keepalive_timeout: keepalive_timeout 0: uWebSockets\.js 20\.57 cannot close/.test(
          err.message,
        ),
    );
    for (const engine of ['auto', 'node'])
      assert.equal(parseConfig(yaml(engine), 'l.yml', {}).http.engine, engine);
  });

  it("engine uws refuses nginx's WebSocket recipe (proxy_set_header Upgrade): uWS cannot tunnel", () => {
    const yaml = (engine: string) =>
      `http:\n  engine: ${engine}\n  upstreams:\n    b:\n      servers: [127.0.0.1:1]\n  servers:\n    - listen: 127.0.0.1:8080\n      locations:\n        - { path: /ws, upstream: b, set_headers: { Upgrade: $http_upgrade, Connection: upgrade } }\n`;
    assert.throws(
      () => parseConfig(yaml('uws'), 'l.yml', {}),
      /set_headers\.Upgrade: proxy_set_header Upgrade: uWebSockets\.js cannot tunnel an Upgrade to a server byte for byte; set http\.engine to node or auto/,
    );
    for (const engine of ['auto', 'node'])
      assert.equal(parseConfig(yaml(engine), 'l.yml', {}).http.engine, engine);
  });

  it('a split_clients variable is known, wherever it is defined', () => {
    const text =
      'server {\n  listen 127.0.0.1:8080;\n  location / {\n    proxy_pass http://b;\n    proxy_set_header X-V $variant;\n  }\n}\n' +
      'split_clients "${remote_addr}" $variant {\n  10% a;\n  * b;\n}\n' +
      'upstream b {\n  server 127.0.0.1:1;\n}\n';
    assert.equal(parseConfig(text, 'n.conf', {}).http.splitClients[0].variable, 'variant');
  });
});
