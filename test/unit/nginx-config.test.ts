// biome-ignore-all lint/suspicious/noTemplateCurlyInString: nginx configs write ${var} in strings; these tests quote them.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { tokenize } from '../../engine/config/dialects/nginx/tokens.ts';
import {
  parseListenAddress,
  parseSize,
  parseTime,
} from '../../engine/config/dialects/nginx/values.ts';
import { looksLikeNginx } from '../../engine/config/dialects/nginx.ts';
import { ConfigError } from '../../engine/config/errors.ts';
import { loadConfig, parseConfig } from '../../engine/config/load.ts';
import { SEED_NGINX_CONF } from '../helpers/nginx.ts';
import { runLegate, writeConfig } from '../helpers/processes.ts';

const SEED = SEED_NGINX_CONF;

/** The messages of a config that must fail, as `line:col: message`. */
function errorsOf(text: string, file = 'nginx.conf'): string[] {
  try {
    parseConfig(text, file, {});
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.issues.map((i) => `${i.line}:${i.column}: ${i.message}`);
  }
  assert.fail('the config was accepted');
}

describe('nginx dialect: detection', () => {
  it('takes nginx text by its first directive, and leaves YAML alone', () => {
    assert.ok(looksLikeNginx(SEED));
    assert.ok(looksLikeNginx('# comment\n\nworker_processes auto;\nevents {}\n'));
    assert.ok(looksLikeNginx('http {\n}\n'));
    assert.ok(looksLikeNginx('upstream backend{\n'));
    // A block on one line, a server address (with its colon) among the parameters.
    assert.ok(looksLikeNginx('upstream live { server 127.0.0.1:8080; }\nserver { listen 80; }\n'));
    assert.ok(looksLikeNginx('worker_processes 2; events {}\n'));
    for (const other of ['config/legate.yml', 'config/nutcracker.yml', 'config/haproxy.cfg']) {
      assert.equal(looksLikeNginx(readFileSync(other, 'utf8')), false, other);
    }
    assert.equal(looksLikeNginx('listen: 127.0.0.1:80 # a {\n'), false);
    assert.equal(looksLikeNginx('redis:\n  a: {listen: 1}\n'), false);
    assert.equal(looksLikeNginx('workers: 2;\n'), false);
    assert.equal(looksLikeNginx(''), false);
  });
});

describe('nginx dialect: the lexer and values', () => {
  it('reads quotes, escapes, ${var} and comments as nginx does (`\\;` stays as written)', () => {
    const { tokens, error } = tokenize(
      'split_clients "${remote_addr}AAA" $v { # c\n 10% "a b"; * \'\'; }\nx a\\;b "q\\"t";',
    );
    assert.equal(error, null);
    assert.deepEqual(
      tokens.map((t) => t.text),
      [
        'split_clients',
        '${remote_addr}AAA',
        '$v',
        '{',
        '10%',
        'a b',
        ';',
        '*',
        '',
        ';',
        '}',
        'x',
        'a\\;b',
        'q"t',
        ';',
      ],
    );
    assert.equal(tokens[4].line, 2);
    assert.match(tokenize('a "open;').error?.message ?? '', /unexpected end of file/);
  });

  it('parses times, sizes and listen addresses', () => {
    assert.equal(parseTime('30'), 30000);
    assert.equal(parseTime('30s'), 30000);
    assert.equal(parseTime('500ms'), 500);
    assert.equal(parseTime('1m30s'), 90000);
    assert.equal(parseTime('1h'), 3600000);
    assert.equal(parseTime('30s1m'), null);
    assert.equal(parseTime('1x'), null);
    assert.equal(parseSize('10m'), 10 * 1024 * 1024);
    assert.equal(parseSize('8K'), 8192);
    assert.equal(parseSize('0'), 0);
    assert.equal(parseSize('1.5m'), null);
    assert.deepEqual(parseListenAddress('80'), { kind: 'tcp', host: '0.0.0.0', port: 80 });
    assert.deepEqual(parseListenAddress('127.0.0.1:8080'), {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 8080,
    });
    assert.deepEqual(parseListenAddress('[::]:8080'), { kind: 'tcp', host: '::', port: 8080 });
    assert.deepEqual(parseListenAddress('*:81'), { kind: 'tcp', host: '0.0.0.0', port: 81 });
    assert.deepEqual(parseListenAddress('unix:/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
    assert.match(String(parseListenAddress('1.2.3.4:99999')), /invalid port/);
  });
});

describe('nginx dialect: the seed snippet', () => {
  it('reads the ConfigMap as it is, with nginx’s defaults', () => {
    const config = parseConfig(SEED, '/etc/nginx/conf.d/nginx.conf', {});
    assert.equal(config.dialect, 'nginx');
    assert.equal(config.workers, null);
    assert.deepEqual(config.warnings, []);
    assert.deepEqual(config.redis, []);
    const [up] = config.http.upstreams;
    assert.equal(up.name, 'backend');
    assert.equal(up.balancer, 'ip_hash');
    assert.equal(up.keepalive, null);
    assert.deepEqual(
      up.servers.map((s) => [
        s.name,
        s.host,
        s.port,
        s.weight,
        s.maxFails,
        s.failTimeoutMs,
        s.maxConns,
        s.down,
        s.backup,
        s.source,
      ]),
      [
        [
          'web-prod:80',
          'web-prod',
          80,
          9,
          1,
          10000,
          0,
          false,
          false,
          '/etc/nginx/conf.d/nginx.conf:3',
        ],
        [
          'web-experiment:80',
          'web-experiment',
          80,
          1,
          1,
          10000,
          0,
          false,
          false,
          '/etc/nginx/conf.d/nginx.conf:4',
        ],
      ],
    );
    const [server] = config.http.servers;
    assert.deepEqual(server.listen, [{ kind: 'tcp', host: '0.0.0.0', port: 80 }]);
    assert.equal(server.clientMaxBodySize, 1048576);
    assert.equal(server.clientHeaderTimeoutMs, 60000);
    assert.equal(server.keepaliveTimeoutMs, 75000);
    assert.equal(server.realIp, null);
    assert.deepEqual(server.locations, [
      {
        prefix: '/',
        exact: false,
        clientMaxBodySize: 1048576,
        clientBodyTimeoutMs: 60000,
        proxy: {
          upstream: 'backend',
          uri: null,
          setHeaders: [],
          httpVersion: '1.0',
          connectTimeoutMs: 60000,
          sendTimeoutMs: 60000,
          readTimeoutMs: 60000,
          nextUpstream: ['error', 'timeout'],
          nextUpstreamTries: 0,
        },
      },
    ]);
  });
});

describe('nginx dialect: a full nginx.conf', () => {
  const FULL = `worker_processes 4;
pid /run/nginx.pid;
events { worker_connections 1024; }
http {
  include mime.types;
  access_log /var/log/nginx/access.log;
  proxy_set_header Host $host;
  proxy_read_timeout 1m30s;
  client_max_body_size 10m;
  set_real_ip_from 10.0.0.0/8;
  set_real_ip_from ::1;
  real_ip_header X-Forwarded-For;
  real_ip_recursive on;
  split_clients "\${remote_addr}AAA" $variant { 10.5% exp; * ""; }
  upstream api {
    hash $request_uri consistent;
    server 10.0.0.1:8080 weight=2 max_fails=3 fail_timeout=30s max_conns=100;
    server 10.0.0.2:8080 down;
    keepalive 16;
    zone api 64k;
  }
  upstream web {
    least_conn;
    server a.internal;
    server b.internal:81 backup;
    sticky cookie srv_id expires=1h domain=.example.com path=/ secure httponly samesite=lax;
  }
  server {
    listen 127.0.0.1:8080 default_server;
    listen [::]:8080;
    server_name example.com www.example.com;
    keepalive_timeout 10s;
    location / {
      proxy_pass http://web;
      proxy_set_header X-Variant $variant;
      proxy_set_header Connection "";
      proxy_http_version 1.1;
    }
    location = /health {
      proxy_pass http://127.0.0.1:9000;
      client_max_body_size 0;
    }
    location ^~ /api/ {
      proxy_pass http://api;
      proxy_connect_timeout 500ms;
      proxy_next_upstream error timeout http_503;
      proxy_next_upstream_tries 2;
    }
  }
}
`;

  it('reads workers, upstreams, servers, inheritance and split_clients; warns about the rest', () => {
    const { file, cleanup } = writeConfig(FULL, 'nginx.conf');
    try {
      writeFileSync(join(dirname(file), 'mime.types'), 'types {\n  text/html html;\n}\n');
      const config = loadConfig(file, {});
      assert.equal(config.dialect, 'nginx');
      assert.equal(config.workers, 4);
      assert.deepEqual(
        config.warnings.map(
          (w) =>
            `${w.file.endsWith('mime.types') ? 'mime.types' : 'nginx.conf'}:${w.line}: ${w.path}`,
        ),
        [
          'nginx.conf:2: pid',
          'nginx.conf:3: worker_connections',
          'nginx.conf:6: access_log',
          'nginx.conf:20: zone',
          'mime.types:1: types',
        ],
      );
      const [split] = config.http.splitClients;
      assert.deepEqual(split, {
        source: '${remote_addr}AAA',
        variable: 'variant',
        parts: [
          { percent: 10.5, value: 'exp' },
          { percent: '*', value: '' },
        ],
      });
      const api = config.http.upstreams.find((u) => u.name === 'api')!;
      assert.equal(api.balancer, 'hash_consistent');
      assert.equal(api.hashKey, '$request_uri');
      assert.equal(api.keepalive, 16);
      assert.deepEqual(
        api.servers.map((s) => [s.weight, s.maxFails, s.failTimeoutMs, s.maxConns, s.down]),
        [
          [2, 3, 30000, 100, false],
          [1, 1, 10000, 0, true],
        ],
      );
      const web = config.http.upstreams.find((u) => u.name === 'web')!;
      assert.equal(web.balancer, 'least_conn');
      assert.deepEqual(
        web.servers.map((s) => [s.host, s.port, s.backup]),
        [
          ['a.internal', 80, false],
          ['b.internal', 81, true],
        ],
      );
      assert.deepEqual(web.sticky, {
        name: 'srv_id',
        expires: 3600,
        domain: '.example.com',
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'lax',
      });
      const implicit = config.http.upstreams.find((u) => u.name === '127.0.0.1:9000')!;
      assert.deepEqual(
        implicit.servers.map((s) => [s.host, s.port, s.weight]),
        [['127.0.0.1', 9000, 1]],
      );

      const [server] = config.http.servers;
      assert.deepEqual(server.listen, [
        { kind: 'tcp', host: '127.0.0.1', port: 8080 },
        { kind: 'tcp', host: '::', port: 8080 },
      ]);
      assert.equal(server.defaultServer, true);
      assert.deepEqual(server.serverNames, ['example.com', 'www.example.com']);
      assert.equal(server.name, 'example.com');
      assert.equal(server.keepaliveTimeoutMs, 10000);
      assert.equal(server.clientMaxBodySize, 10 * 1024 * 1024);
      assert.deepEqual(server.realIp, {
        trusted: ['10.0.0.0/8', '::1'],
        header: 'x-forwarded-for',
        recursive: true,
      });
      const [root, health, apiLoc] = server.locations;
      // A level that sets proxy_set_header replaces the inherited list; one that sets none inherits it.
      assert.deepEqual(root.proxy.setHeaders, [
        { name: 'X-Variant', value: '$variant' },
        { name: 'Connection', value: '' },
      ]);
      assert.equal(root.proxy.httpVersion, '1.1');
      assert.equal(root.proxy.readTimeoutMs, 90000);
      assert.deepEqual(health.proxy.setHeaders, [{ name: 'Host', value: '$host' }]);
      assert.deepEqual(
        [health.prefix, health.exact, health.proxy.upstream, health.proxy.uri],
        ['/health', true, '127.0.0.1:9000', null],
      );
      assert.equal(health.clientMaxBodySize, 0);
      assert.equal(health.proxy.httpVersion, '1.0');
      assert.deepEqual(
        [apiLoc.prefix, apiLoc.exact, apiLoc.proxy.upstream],
        ['/api/', false, 'api'],
      );
      assert.equal(apiLoc.proxy.connectTimeoutMs, 500);
      assert.deepEqual(apiLoc.proxy.nextUpstream, ['error', 'timeout', 'http_503']);
      assert.equal(apiLoc.proxy.nextUpstreamTries, 2);
      assert.equal(apiLoc.clientMaxBodySize, 10 * 1024 * 1024);
    } finally {
      cleanup();
    }
  });

  it('-t validates it and prints each warning with file:line', async () => {
    const { file, cleanup } = writeConfig(FULL, 'nginx.conf');
    try {
      writeFileSync(join(dirname(file), 'mime.types'), 'types { text/html html; }\n');
      const result = await runLegate(['-t', '-c', file]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout.toString(), /syntax is ok/);
      assert.match(
        result.stderr,
        new RegExp(`legate: warning: ${file}:6:3: access_log: ignored: `),
      );
      assert.match(result.stderr, /mime\.types:1:1: types: ignored/);
      const bad = await runLegate(['-t', '-c', join(dirname(file), 'missing.conf')]);
      assert.equal(bad.code, 1);
    } finally {
      cleanup();
    }
  });
});

describe('nginx dialect: what is refused, with file:line', () => {
  it('refuses backup with ip_hash and hash, as nginx does', () => {
    const text =
      'upstream b {\n  ip_hash;\n  server a:80;\n  server c:80 backup;\n}\nserver { location / { proxy_pass http://b; } }\n';
    assert.deepEqual(errorsOf(text), [
      '4:15: balancing method does not support parameter "backup"',
    ]);
    assert.deepEqual(errorsOf(text.replace('ip_hash;', 'hash $request_uri;')), [
      '4:15: balancing method does not support parameter "backup"',
    ]);
    // Round robin and least_conn take backups.
    parseConfig(text.replace('ip_hash;', 'least_conn;'), 'nginx.conf', {});
  });

  it("refuses a URI part in proxy_pass (legate passes the client's URI), but not `location / { proxy_pass http://b/; }`", () => {
    const up = 'upstream b { server 127.0.0.1:80; }\n';
    const errors = errorsOf(
      `${up}server {\n  listen 80;\n  location /api/ { proxy_pass http://b/v1/; }\n}\n`,
    );
    assert.deepEqual(errors.length, 1, errors.join('\n'));
    assert.match(
      errors[0],
      /^4:31: a URI part in proxy_pass \("\/v1\/"\) is not supported: legate passes the client's URI unchanged; write proxy_pass http:\/\/b and have/,
    );
    const same = parseConfig(
      `${up}server {\n  listen 80;\n  location / { proxy_pass http://b/; }\n}\n`,
      'nginx.conf',
      {},
    );
    assert.equal(same.http.servers[0].locations[0].proxy.uri, null);
    assert.equal(
      errorsOf(`${up}server {\n  listen 80;\n  location = / { proxy_pass http://b/; }\n}\n`).length,
      1,
    );
  });

  it('names unknown and unsupported directives, regex locations and bad values', () => {
    const text = `upstream b {
  server a:80 weight=0;
  server c:80 fail_timeout=soon;
  frobnicate on;
}
upstream b { server x:80; }
server {
  listen 80 ssl;
  root /var/www;
  location ~ \\.php$ { proxy_pass http://b; }
  location /x { proxy_pass https://b; }
  location /y { proxy_pass http://b:8080; }
  location /z { }
  proxy_read_timeout 10x;
}
split_clients "$remote_addr" $v { 60% a; 50% b; }
worker_processes 2;
`;
    const errors = errorsOf(text);
    const expected = [
      /^2:15: invalid parameter "weight=0"$/,
      /^3:15: invalid parameter "fail_timeout=soon"$/,
      /^4:3: unknown directive "frobnicate" in upstream "b"; legate reads the subset/,
      /^6:1: duplicate upstream "b"$/,
      /^8:13: "ssl" is not supported: legate does not terminate TLS/,
      /^9:3: "root" is not supported: legate only proxies/,
      /^10:12: regex locations are not supported/,
      /^11:28: legate proxies to upstreams in plain HTTP only/,
      /^12:28: upstream "b" may not have port 8080$/,
      /^13:3: location "\/z" has no proxy_pass/,
      /^14:22: invalid time "10x"$/,
      /^16:42: percent total is greater than 100%$/,
      /^17:1: "worker_processes" directive is not allowed here: without an http \{\} block/,
    ];
    for (const pattern of expected) {
      assert.ok(
        errors.some((e) => pattern.test(e)),
        `${pattern} in\n${errors.join('\n')}`,
      );
    }
    assert.equal(errors.length, expected.length, errors.join('\n'));
  });

  it('reports unbalanced braces and unclosed quotes where they are', () => {
    assert.deepEqual(errorsOf('upstream b {\n  server a:80;\n'), [
      '2:14: unexpected end of file, expecting "}"',
    ]);
    assert.deepEqual(errorsOf('server {\n  listen "80;\n}\n'), [
      '2:10: unexpected end of file, expecting "',
    ]);
    const missingSemicolon = errorsOf(
      'upstream b {\n  server a:80\n}\nserver { location / { proxy_pass http://b; } }\n',
    );
    assert.ok(
      missingSemicolon.includes('2:3: unexpected "}": the directive needs a ";" before it'),
      missingSemicolon.join('\n'),
    );
  });

  it('needs a server block and servers in each upstream', () => {
    assert.match(errorsOf('upstream b {\n}\n').join('\n'), /no servers are inside upstream "b"/);
    assert.match(
      errorsOf('worker_processes auto;\nhttp {\n}\n').join('\n'),
      /no server \{\} block/,
    );
  });
});

describe('nginx dialect: the nginx:alpine image’s nginx.conf with the seed in conf.d', () => {
  it('reads the image’s main file, its includes and the ConfigMap', () => {
    const main = `user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include conf.d/*.conf;
}
`;
    const { file, cleanup } = writeConfig(main, 'nginx.conf');
    try {
      const dir = dirname(file);
      writeFileSync(join(dir, 'mime.types'), 'types {\n    text/html  html htm shtml;\n}\n');
      mkdirSync(join(dir, 'conf.d'));
      writeFileSync(join(dir, 'conf.d', 'nginx.conf'), SEED);
      const config = loadConfig(file, {});
      assert.equal(config.workers, null);
      assert.deepEqual(
        config.warnings.map((w) => `${w.line}:${w.path}`),
        [
          '1:user',
          '4:error_log',
          '5:pid',
          '8:worker_connections',
          '13:default_type',
          '15:log_format',
          '19:access_log',
          '21:sendfile',
          '1:types',
        ],
      );
      assert.equal(
        config.http.upstreams[0].servers[0].source,
        `${join(dir, 'conf.d', 'nginx.conf')}:3`,
      );
      assert.equal(config.http.servers[0].keepaliveTimeoutMs, 65000);
      assert.equal(config.http.servers[0].locations[0].proxy.upstream, 'backend');
    } finally {
      cleanup();
    }
  });
});
