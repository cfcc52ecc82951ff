// biome-ignore-all lint/suspicious/noTemplateCurlyInString: nginx configs write ${var} in strings; these tests quote them.
// legate -t and nginx -t on the same files: what nginx refuses, legate refuses (with the same
// message where nginx has one), and what nginx takes and legate supports, legate takes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nginxHttpPrelude } from '../helpers/nginx.ts';
import { run, runLegate } from '../helpers/processes.ts';

/** A full nginx.conf around an http{} body, runnable by nginx -t from `dir` without root. */
function full(dir: string, http: string): string {
  return `worker_processes 2;\nevents { worker_connections 64; }\nhttp {\n${nginxHttpPrelude(dir)}\n${http}\n}\n`;
}

const SERVER = 'server { listen 127.0.0.1:18080; location / { proxy_pass http://b; } }';

interface Case {
  readonly name: string;
  readonly http: string;
  /** Both accept, or both refuse with a message matching this (legate's). */
  readonly refused?: RegExp;
  /** nginx's message, when it says the same thing in other words. */
  readonly nginxSays?: RegExp;
}

const CASES: readonly Case[] = [
  {
    name: 'the seed’s upstream, on loopback addresses',
    http: `upstream b { ip_hash; server 127.0.0.1:18081 weight=9; server 127.0.0.1:18082 weight=1; }\n${SERVER}`,
  },
  {
    name: 'every balancer and server parameter legate reads',
    http:
      'upstream b { hash $request_uri consistent; server 127.0.0.1:18081 weight=2 max_fails=3 fail_timeout=5s max_conns=9; server 127.0.0.1:18082 down; keepalive 8; }\n' +
      'upstream c { least_conn; server 127.0.0.1:18083; server 127.0.0.1:18084 backup; }\n' +
      'upstream d { random two least_conn; server 127.0.0.1:18085; server 127.0.0.1:18086; }\n' +
      'split_clients "${remote_addr}AAA" $v { 0.5% a; 50% b; * ""; }\n' +
      'server { listen 127.0.0.1:18080 default_server; server_name x; set_real_ip_from 10.0.0.0/8; real_ip_header X-Forwarded-For; real_ip_recursive on;\n' +
      '  location / { proxy_pass http://b; proxy_set_header X-V $v; proxy_http_version 1.1; proxy_read_timeout 1m30s; proxy_next_upstream error timeout http_503; proxy_next_upstream_tries 3; client_max_body_size 10m; }\n' +
      '  location = /c { proxy_pass http://c; }\n  location ^~ /d { proxy_pass http://d; }\n  location /e { proxy_pass http://127.0.0.1:18087; } }',
  },
  {
    name: 'backup with ip_hash',
    http: `upstream b { ip_hash; server 127.0.0.1:18081; server 127.0.0.1:18082 backup; }\n${SERVER}`,
    refused: /balancing method does not support parameter "backup"/,
  },
  {
    name: 'backup with hash',
    http: `upstream b { hash $request_uri; server 127.0.0.1:18081; server 127.0.0.1:18082 backup; }\n${SERVER}`,
    refused: /balancing method does not support parameter "backup"/,
  },
  {
    name: 'weight=0',
    http: `upstream b { server 127.0.0.1:18081 weight=0; }\n${SERVER}`,
    refused: /invalid parameter "weight=0"/,
  },
  {
    name: 'an unknown server parameter',
    http: `upstream b { server 127.0.0.1:18081 wieght=2; }\n${SERVER}`,
    refused: /invalid parameter "wieght=2"/,
  },
  {
    name: 'an upstream without servers',
    http: `upstream b { }\n${SERVER}`,
    refused: /no servers are inside upstream/,
  },
  {
    name: 'a duplicate upstream',
    http: `upstream b { server 127.0.0.1:18081; }\nupstream b { server 127.0.0.1:18082; }\n${SERVER}`,
    refused: /duplicate upstream "b"/,
  },
  {
    name: 'proxy_pass naming an upstream with a port',
    http: `upstream b { server 127.0.0.1:18081; }\nserver { listen 127.0.0.1:18080; location / { proxy_pass http://b:8080; } }`,
    refused: /upstream "b" may not have port 8080/,
  },
  {
    name: 'split_clients over 100%',
    http: `upstream b { server 127.0.0.1:18081; }\nsplit_clients "$remote_addr" $v { 60% a; 50% b; }\n${SERVER}`,
    refused: /percent total is greater than 100%/,
  },
  {
    name: 'an unknown directive',
    http: `upstream b { server 127.0.0.1:18081; }\nserver { listen 127.0.0.1:18080; frobnicate on; location / { proxy_pass http://b; } }`,
    refused: /unknown directive "frobnicate"/,
  },
  {
    name: 'a bad time',
    http: `upstream b { server 127.0.0.1:18081; }\nserver { listen 127.0.0.1:18080; location / { proxy_pass http://b; proxy_read_timeout 10x; } }`,
    refused: /invalid time "10x"/,
    nginxSays: /"proxy_read_timeout" directive invalid value/,
  },
  {
    name: 'a missing semicolon',
    http: `upstream b { server 127.0.0.1:18081 }\n${SERVER}`,
    refused: /unexpected "}"/,
  },
];

describe('legate -t and nginx -t agree on the same files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'legate-nginx-t-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const file = join(dir, `case-${i}.conf`);
      writeFileSync(file, full(dir, c.http));
      const nginx = await run('nginx', [
        '-t',
        '-p',
        dir,
        '-c',
        file,
        '-g',
        `pid ${join(dir, `pid-${i}`)}; error_log stderr;`,
      ]);
      const legate = await runLegate(['-t', '-c', file]);
      if (c.refused === undefined) {
        assert.equal(nginx.code, 0, `nginx: ${nginx.stderr}`);
        assert.equal(legate.code, 0, `legate: ${legate.stderr}`);
      } else {
        assert.notEqual(nginx.code, 0, 'nginx refuses it');
        assert.match(nginx.stderr, c.nginxSays ?? c.refused);
        assert.equal(legate.code, 1, 'legate refuses it');
        assert.match(legate.stderr, c.refused);
        assert.match(legate.stderr, new RegExp(`${file}:\\d+:\\d+: `), 'with file:line:column');
      }
    });
  });
});
