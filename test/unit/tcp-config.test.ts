// The native `tcp:` section: what each key becomes, its defaults, profiles chosen by LEGATE_ENV,
// and every refusal with its place and what to do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ConfigIssue, formatIssue } from '../../engine/config/errors.ts';
import { loadConfig, parseConfig } from '../../engine/config/load.ts';
import type { LegateConfig } from '../../engine/config/types.ts';
import { configIssues } from '../helpers/config.ts';

function parse(text: string, env: NodeJS.ProcessEnv = {}): LegateConfig {
  return parseConfig(text, 'test.yml', env);
}

function issues(text: string, env: NodeJS.ProcessEnv = {}): readonly ConfigIssue[] {
  return configIssues(text, 'test.yml', env);
}

function only(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue {
  const found = issues(text, env);
  assert.equal(found.length, 1, found.map(formatIssue).join('\n'));
  return found[0];
}

function at(issue: ConfigIssue, line: number, column: number, path: string, message: RegExp): void {
  assert.equal(
    `${issue.line}:${issue.column} ${issue.path}`,
    `${line}:${column} ${path}`,
    formatIssue(issue),
  );
  assert.match(issue.message, message);
}

const SERVICE = 'tcp:\n  services:\n    pg:\n      listen: 127.0.0.1:5432\n';

describe('tcp: the native broker section', () => {
  it('loads the documented example config/broker.yml in dev and prod', () => {
    const file = fileURLToPath(new URL('../../config/broker.yml', import.meta.url));
    const dev = loadConfig(file, {});
    assert.equal(dev.redis.length, 0);
    assert.deepEqual(
      dev.tcp.backends[0].servers.map((s) => `${s.host}:${s.port}`),
      ['127.0.0.1:15432'],
    );
    const prod = loadConfig(file, { LEGATE_ENV: 'prod', RDS_HOST: 'rds.internal' });
    const [primary, standby] = prod.tcp.backends[0].servers;
    assert.equal(primary.host, 'rds.internal');
    assert.equal(primary.maxconn, 100);
    assert.equal(standby.backup, true);
    assert.equal(prod.tcp.backends[0].check.kind, 'postgres');
    assert.equal(prod.drainTimeoutMs, 30000);
  });

  it('a file with only tcp: is valid, with HAProxy defaults (but redispatch)', () => {
    const c = parse(`${SERVICE}      servers: [127.0.0.1:15432]\n`);
    const [service] = c.tcp.services;
    const [backend] = c.tcp.backends;
    assert.deepEqual(service.listen, [{ kind: 'tcp', host: '127.0.0.1', port: 5432 }]);
    assert.equal(service.backend, 'pg');
    assert.equal(service.clientTimeoutMs, null);
    assert.equal(backend.balance, 'roundrobin');
    assert.equal(backend.retries, 3);
    assert.equal(backend.redispatch, true, 'legate.yml moves the last retry on by default');
    assert.equal(backend.connectTimeoutMs, 5000);
    assert.equal(backend.postgres, false);
    assert.equal(backend.shutdownSessionsOnDown, false);
    assert.deepEqual(backend.check, { kind: 'tcp' });
    const [s] = backend.servers;
    assert.equal(s.name, '127.0.0.1:15432');
    assert.equal(s.weight, 1);
    assert.equal(s.check, false);
    assert.equal(s.resolve, false);
    assert.deepEqual(s.timing, { intervalMs: 2000, fall: 3, rise: 2, timeoutMs: null });
  });

  it('reads durations with units, checks, DNS and server keys', () => {
    const c = parse(
      `${SERVICE}      client_timeout: 30m\n      connect_timeout: 1.5s\n      on_down: close\n` +
        '      check:\n        type: send-expect\n        interval: 500ms\n        steps:\n          - send: "PING\\r\\n"\n          - expect: "+PONG"\n' +
        '      dns:\n        nameservers: [127.0.0.1:5353]\n' +
        '      servers:\n        - address: db:5432\n          name: primary\n          maxconn: 10\n          send_proxy: v2\n          weight: 0\n',
    );
    const [b] = c.tcp.backends;
    assert.equal(c.tcp.services[0].clientTimeoutMs, 1_800_000);
    assert.equal(b.connectTimeoutMs, 1500);
    assert.equal(b.shutdownSessionsOnDown, true);
    assert.equal(b.check.kind, 'send-expect');
    assert.deepEqual(b.dns?.nameservers, [{ host: '127.0.0.1', port: 5353 }]);
    const [s] = b.servers;
    assert.equal(s.timing.intervalMs, 500);
    assert.equal(s.check, true);
    assert.equal(s.resolve, true);
    assert.equal(s.sendProxy, 'v2');
    assert.equal(s.maxconn, 10);
    assert.equal(s.weight, 0);
  });

  it('profiles: LEGATE_ENV over tcp.env; an unknown profile or none chosen is refused', () => {
    const text = `tcp:\n  env: dev\n  services:\n    pg:\n      listen: 127.0.0.1:5432\n      servers:\n        dev: [a:1]\n        prod: [b:2]\n`;
    assert.equal(parse(text).tcp.backends[0].servers[0].host, 'a');
    assert.equal(parse(text, { LEGATE_ENV: 'prod' }).tcp.backends[0].servers[0].host, 'b');
    at(
      only(text, { LEGATE_ENV: 'staging' }),
      6,
      7,
      'tcp.services.pg.servers',
      /no profile 'staging' \(from LEGATE_ENV\); profiles here: dev, prod/,
    );
    const noDefault = text.replace('  env: dev\n', '');
    at(
      only(noDefault),
      5,
      7,
      'tcp.services.pg.servers',
      /set LEGATE_ENV, or name the default with 'env:'/,
    );
    // A mistake in a profile not in use is still reported.
    at(
      only(text.replace('prod: [b:2]', 'prod: [b]')),
      8,
      16,
      'tcp.services.pg.servers.prod[0]',
      /expected 'host:port'/,
    );
  });

  it('refuses each bad value where it is, saying what to do', () => {
    const bad = (keys: string, servers = '[127.0.0.1:1]') =>
      issues(`${SERVICE}${keys}      servers: ${servers}\n`);
    at(
      bad('      balance: random\n')[0],
      5,
      16,
      'tcp.services.pg.balance',
      /expected one of roundrobin, leastconn, first, source; got 'random'/,
    );
    at(
      bad('      connect_timeout: soon\n')[0],
      5,
      24,
      'tcp.services.pg.connect_timeout',
      /expected a duration: milliseconds \(5000\) or a number with ms, s, m, h or d/,
    );
    at(bad('      retries: -1\n')[0], 5, 16, 'tcp.services.pg.retries', /must be at least 0/);
    at(
      bad('      on_down: kill\n')[0],
      5,
      16,
      'tcp.services.pg.on_down',
      /expected one of keep, close/,
    );
    at(
      bad('      listn: 1\n')[0],
      5,
      7,
      'tcp.services.pg.listn',
      /unknown key 'listn' in service 'pg'/,
    );
    at(
      bad('', '[nope]')[0],
      5,
      17,
      'tcp.services.pg.servers[0]',
      /expected 'host:port' or '\[ipv6\]:port', got 'nope'/,
    );
    at(
      bad('', '[{address: a:1, weight: 300}]')[0],
      5,
      40,
      'tcp.services.pg.servers[0].weight',
      /must be at most 256/,
    );
    at(bad('', '[{name: x}]')[0], 5, 17, 'tcp.services.pg.servers[0]', /a server needs 'address'/);
    at(
      bad('', '[{address: a:1, check: true}]')[0],
      5,
      39,
      'tcp.services.pg.servers[0].check',
      /needs a 'check:' section/,
    );
    at(
      bad('', '[a:1, {address: b:1, name: "a:1"}]')[0],
      5,
      22,
      'tcp.services.pg.servers[1]',
      /two servers are named 'a:1'/,
    );
    at(
      bad('      check:\n        type: postgres\n')[0],
      5,
      7,
      'tcp.services.pg.check',
      /a postgres check needs 'user'/,
    );
    at(
      bad('      check:\n        type: http\n')[0],
      6,
      15,
      'tcp.services.pg.check.type',
      /expected one of tcp, postgres, redis, mysql, send-expect/,
    );
    at(
      bad('      check:\n        type: redis\n        user: x\n')[0],
      7,
      9,
      'tcp.services.pg.check.user',
      /unknown key 'user' in a redis check/,
    );
    at(
      bad('      check:\n        type: send-expect\n        steps: [{expect_regex: "("}]\n')[0],
      7,
      32,
      'tcp.services.pg.check.steps[0].expect_regex',
      /not a valid regular expression/,
    );
    at(
      bad('      check:\n        type: send-expect\n        steps: [{send_binary: "0g"}]\n')[0],
      7,
      31,
      'tcp.services.pg.check.steps[0].send_binary',
      /expected hex bytes/,
    );
    at(
      bad('      dns:\n        nameservers: [resolver]\n')[0],
      6,
      23,
      'tcp.services.pg.dns.nameservers[0]',
      /expected 'host:port'/,
    );
  });

  it('requires listen and servers; refuses a service on the admin address and two on one port', () => {
    at(
      only('tcp:\n  services:\n    pg:\n      listen: 127.0.0.1:5432\n'),
      3,
      5,
      'tcp.services.pg',
      /service 'pg' has no 'servers', which is required/,
    );
    at(
      only('tcp:\n  services:\n    pg:\n      servers: [a:1]\n'),
      3,
      5,
      'tcp.services.pg',
      /service 'pg' has no 'listen'/,
    );
    at(
      only('tcp:\n  services:\n    pg:\n      listen: 127.0.0.1:9909\n      servers: [a:1]\n'),
      4,
      15,
      'tcp.services.pg.listen',
      /service 'pg' listens on 127.0.0.1:9909, which the admin endpoint already uses/,
    );
    const two =
      'tcp:\n  services:\n    a:\n      listen: 127.0.0.1:7000\n      servers: [a:1]\n    b:\n      listen: 127.0.0.1:7000\n      servers: [a:1]\n';
    at(
      only(two),
      7,
      15,
      'tcp.services.b.listen',
      /service 'b' listens on 127.0.0.1:7000, which service 'a' already uses/,
    );
    at(only('tcp:\n  services: {}\n'), 2, 13, 'tcp.services', /has no services/);
  });
});
