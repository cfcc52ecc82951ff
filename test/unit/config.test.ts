// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about ${VAR} in config text, not JS templates.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseListen } from '../../engine/config/address.ts';
import { ConfigError, type ConfigIssue, formatIssue } from '../../engine/config/errors.ts';
import { expand } from '../../engine/config/interpolate.ts';
import { loadConfig, parseConfig } from '../../engine/config/load.ts';
import { compareServerNames, parseServerLine } from '../../engine/config/server-line.ts';
import type { LegateConfig, RedisPoolConfig } from '../../engine/config/types.ts';

const repoFile = (name: string) => fileURLToPath(new URL(`../../config/${name}`, import.meta.url));

function parse(text: string, env: NodeJS.ProcessEnv = {}): LegateConfig {
  return parseConfig(text, 'test.yml', env);
}

function pool(text: string, env: NodeJS.ProcessEnv = {}): RedisPoolConfig {
  const config = parse(text, env);
  assert.equal(config.redis.length, 1);
  return config.redis[0];
}

/** Every issue the text produces; fails when it loads. */
function issues(text: string, env: NodeJS.ProcessEnv = {}): readonly ConfigIssue[] {
  try {
    parse(text, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.code, 'LEGATE_CONFIG');
    assert.equal(error.message, error.issues.map(formatIssue).join('\n'));
    return error.issues;
  }
  assert.fail('expected the config to be refused');
}

/** The single issue the text produces. */
function issue(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue {
  const found = issues(text, env);
  assert.equal(found.length, 1, found.map(formatIssue).join('\n'));
  return found[0];
}

function at(found: ConfigIssue, line: number, column: number, path: string, message: RegExp): void {
  assert.deepEqual(
    { line: found.line, column: found.column, path: found.path },
    { line, column, path },
    formatIssue(found),
  );
  assert.match(found.message, message);
}

/** A valid nutcracker pool `p` with `extra` lines added to it. */
const withPool = (...extra: string[]) =>
  [
    'p:',
    '  listen: 127.0.0.1:22121',
    ...extra.map((l) => `  ${l}`),
    '  servers:',
    '    - 127.0.0.1:6380:1',
    ...(extra.some((l) => l.startsWith('redis:')) ? [] : ['  redis: true']),
    '',
  ].join('\n');

describe('config: the nutcracker dialect', () => {
  it('loads the seed nutcracker.yml unchanged, with twemproxy defaults', () => {
    const config = loadConfig(repoFile('nutcracker.yml'), {});
    assert.equal(config.dialect, 'nutcracker');
    assert.equal(config.workers, null);
    assert.deepEqual(config.admin.listen, { kind: 'tcp', host: '127.0.0.1', port: 9909 });
    assert.equal(config.log.level, 'info');
    assert.equal(config.redis.length, 1);
    const { servers, ...rest } = config.redis[0];
    assert.deepEqual(rest, {
      name: 'redis',
      listen: { kind: 'tcp', host: '127.0.0.1', port: 6379 },
      hash: 'fnv1a_64',
      hashTag: null,
      distribution: 'ketama',
      timeoutMs: 400,
      backlog: 512,
      preconnect: false,
      redis: true,
      redisAuth: null,
      redisDb: 0,
      serverConnections: 1,
      autoEjectHosts: true,
      serverRetryTimeoutMs: 30000,
      serverFailureLimit: 2,
      clientConnections: null,
      tcpKeepalive: false,
      reuseport: false,
      maxRequestBytes: 64 * 1024 * 1024,
      clientMaxPending: 16384,
      clientMaxOutputBytes: 16 * 1024 * 1024,
      serverMaxInflight: 65536,
    });
    assert.deepEqual(
      servers.map((s) => [s.name, s.weight, s.address]),
      [0, 1, 2].map((i) => [
        `redis-shard-${i}.redis:6379`,
        1,
        { kind: 'tcp', host: `redis-shard-${i}.redis`, port: 6379 },
      ]),
    );
  });

  it('applies defaults: no timeout, unlimited clients, fnv1a_64, ketama', () => {
    const p = pool(withPool());
    assert.equal(p.timeoutMs, null);
    assert.equal(p.clientConnections, null);
    assert.equal(p.hash, 'fnv1a_64');
    assert.equal(p.distribution, 'ketama');
  });

  it("refuses a memcached pool (twemproxy's default redis: false), saying to set redis: true", () => {
    const found = issue('p:\n  listen: 127.0.0.1:22121\n  servers: [a:1:1]\n');
    at(
      found,
      1,
      1,
      'p.redis',
      /speaks memcached \(redis: false, the default\); legate proxies Redis only/,
    );
  });

  it('reads every key, and 0 means "none" for timeout and client_connections as in twemproxy', () => {
    const p = pool(
      withPool(
        'hash: murmur',
        'hash_tag: "{}"',
        'distribution: modula',
        'timeout: 0',
        'backlog: 1024',
        'preconnect: true',
        'redis: true',
        'redis_auth: 0123',
        'redis_db: 3',
        'server_connections: 2',
        'auto_eject_hosts: true',
        'server_retry_timeout: 2000',
        'server_failure_limit: 5',
        'client_connections: 0',
        'tcpkeepalive: true',
        'reuseport: true',
      ),
    );
    assert.equal(p.hash, 'murmur');
    assert.equal(p.hashTag, '{}');
    assert.equal(p.distribution, 'modula');
    assert.equal(p.timeoutMs, null);
    assert.equal(p.backlog, 1024);
    assert.equal(p.preconnect, true);
    assert.equal(p.redisAuth, '0123', 'a password is kept as written, leading zero included');
    assert.equal(p.redisDb, 3);
    assert.equal(p.serverConnections, 2);
    assert.equal(p.serverRetryTimeoutMs, 2000);
    assert.equal(p.serverFailureLimit, 5);
    assert.equal(p.clientConnections, null);
    assert.equal(p.tcpKeepalive, true);
    assert.equal(p.reuseport, true);
    assert.equal(pool(withPool('client_connections: 100')).clientConnections, 100);
  });

  it('reads several pools, in file order', () => {
    const config = parse(
      `${withPool()}q:\n  listen: /tmp/q.sock 0666\n  redis: true\n  servers: ['/tmp/r.sock:1']\n`,
    );
    assert.deepEqual(
      config.redis.map((p) => p.name),
      ['p', 'q'],
    );
    assert.deepEqual(config.redis[1].listen, { kind: 'unix', path: '/tmp/q.sock', mode: 0o666 });
  });
});

describe('config: server lines', () => {
  it('names servers as twemproxy does and sorts them by name, shorter first', () => {
    const p = pool(
      [
        'p:',
        '  listen: 127.0.0.1:22121',
        '  redis: true',
        '  servers:',
        '    - 10.0.0.2:6379:1',
        '    - 10.0.0.1:11211:2',
        '    - 10.0.0.3:6379:1 b',
        '    - /var/run/redis.sock:3',
        '    - 10.0.0.4:6379:1 a',
        '    - 10.0.0.10:6379:1',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      p.servers.map((s) => s.name),
      ['a', 'b', '10.0.0.1', '10.0.0.2:6379', '10.0.0.10:6379', '/var/run/redis.sock'],
    );
    const unix = p.servers[5];
    assert.deepEqual(unix.address, { kind: 'unix', path: '/var/run/redis.sock' });
    assert.equal(unix.weight, 3);
    const memcachedPort = p.servers[2];
    assert.deepEqual(memcachedPort.address, { kind: 'tcp', host: '10.0.0.1', port: 11211 });
    assert.equal(memcachedPort.weight, 2);
    assert.equal(memcachedPort.source, '10.0.0.1:11211:2');
  });

  it('compares names by byte length, then bytes', () => {
    assert.ok(compareServerNames('z', 'aa') < 0);
    assert.ok(compareServerNames('ab', 'aa') > 0);
    assert.ok(
      compareServerNames('é', 'ab') === Buffer.compare(Buffer.from('é'), Buffer.from('ab')),
    );
  });

  it('reads lines from the end, so the name is after the last space and v6 hosts pass', () => {
    const v6 = parseServerLine('[::1]:6379:1');
    assert.ok(v6.ok);
    assert.deepEqual(v6.value.address, { kind: 'tcp', host: '::1', port: 6379 });
    assert.equal(v6.value.name, '[::1]:6379');
    const bare = parseServerLine('::1:6379:1 local');
    assert.ok(bare.ok);
    assert.deepEqual(bare.value.address, { kind: 'tcp', host: '::1', port: 6379 });
    assert.equal(bare.value.name, 'local');
  });
});

describe('config: listen addresses', () => {
  it('reads host:port, [v6]:port and unix sockets with an optional mode', () => {
    assert.deepEqual(parseListen('0.0.0.0:22121'), {
      ok: true,
      value: { kind: 'tcp', host: '0.0.0.0', port: 22121 },
    });
    assert.deepEqual(parseListen('[::1]:6379'), {
      ok: true,
      value: { kind: 'tcp', host: '::1', port: 6379 },
    });
    assert.deepEqual(parseListen('/tmp/x.sock'), {
      ok: true,
      value: { kind: 'unix', path: '/tmp/x.sock' },
    });
    assert.deepEqual(parseListen('/tmp/x.sock 0666'), {
      ok: true,
      value: { kind: 'unix', path: '/tmp/x.sock', mode: 0o666 },
    });
  });

  it('says what is wrong with a bad one', () => {
    const bad = (text: string) => {
      const r = parseListen(text);
      assert.ok(!r.ok);
      return r.error;
    };
    assert.match(
      bad('localhost'),
      /expected 'host:port', '\[ipv6\]:port' or '\/path\/to.sock \[mode\]'/,
    );
    assert.match(bad('::1:6379'), /IPv6 address needs brackets/);
    assert.match(bad('/tmp/x.sock 999'), /octal like 0666/);
    assert.match(bad('127.0.0.1:0'), /port must be between 1 and 65535, got 0/);
  });
});

describe('config: the legate dialect', () => {
  it('loads the documented example config/legate.yml', () => {
    const config = loadConfig(repoFile('legate.yml'), {});
    assert.equal(config.dialect, 'legate');
    assert.equal(config.workers, null);
    assert.deepEqual(config.admin.listen, { kind: 'tcp', host: '127.0.0.1', port: 9909 });
    assert.equal(config.redis.length, 1);
    const main = config.redis[0];
    assert.deepEqual(main.listen, { kind: 'tcp', host: '127.0.0.1', port: 6379 });
    assert.deepEqual(
      main.servers.map((s) => s.name),
      ['127.0.0.1:6380', '127.0.0.1:6381', '127.0.0.1:6382'],
    );
  });

  it('reads workers, admin and log, with defaults when absent', () => {
    const pools =
      'redis:\n  a:\n    listen: 127.0.0.1:7000\n    redis: true\n    servers: [127.0.0.1:7001:1]\n';
    const config = parse(
      `workers: 3\nadmin:\n  listen: "[::1]:9000"\nlog:\n  level: debug\n${pools}`,
    );
    assert.equal(config.workers, 3);
    assert.deepEqual(config.admin.listen, { kind: 'tcp', host: '::1', port: 9000 });
    assert.equal(config.log.level, 'debug');
    const plain = parse(pools);
    assert.equal(plain.dialect, 'legate');
    assert.equal(plain.workers, null);
    assert.equal(plain.log.level, 'info');
    assert.equal(parse(`workers: auto\n${pools}`).workers, null);
  });

  it('refuses a pool on the admin address', () => {
    const found = issue(
      'redis:\n  a:\n    listen: 127.0.0.1:9909\n    redis: true\n    servers: [b:1:1]\n',
    );
    at(found, 3, 13, 'redis.a.listen', /which the admin endpoint already uses \(by default\)/);
  });

  it('follows YAML anchors', () => {
    const config = parse(
      'redis:\n  a:\n    listen: 127.0.0.1:7000\n    redis: true\n    servers: &shards [s1:6379:1, s2:6379:1]\n' +
        '  b:\n    listen: 127.0.0.1:7001\n    redis: true\n    servers: *shards\n',
    );
    assert.deepEqual(config.redis[1].servers, config.redis[0].servers);
  });

  it('refuses a tcp: without services and an http: without servers', () => {
    const found = issues(
      'redis:\n  a:\n    listen: 127.0.0.1:7000\n    redis: true\n    servers: [b:1:1]\ntcp: {}\nhttp: {}\n',
    );
    assert.equal(found.length, 2);
    at(found[0], 6, 1, 'tcp', /has no 'services'/);
    at(found[1], 7, 1, 'http.servers', /'http' has no 'servers'/);
  });

  it('points a pool written at the top level of a native file to redis:', () => {
    const found = issue('workers: 2\ncache:\n  listen: 127.0.0.1:7000\n  servers: [b:1:1]\n');
    at(found, 2, 1, 'cache', /looks like a Redis pool.*under 'redis:'/);
  });

  it('reports a file without pools, and bad workers and log level', () => {
    const found = issues('workers: 0\nlog:\n  level: loud\n');
    assert.equal(found.length, 3, found.map(formatIssue).join('\n'));
    at(
      found[0],
      1,
      1,
      '',
      /nothing to serve: add a Redis pool under 'redis:', services under 'tcp:' or .* under 'http:'/,
    );
    at(found[1], 1, 10, 'workers', /must be at least 1, got 0 \(or 'auto'/);
    at(
      found[2],
      3,
      10,
      'log.level',
      /expected one of fatal, error, warn, info, debug, trace, silent; got 'loud'/,
    );
  });
});

describe('config: interpolation', () => {
  it('expands ${VAR}, ${VAR:-default} and $${ escapes', () => {
    assert.deepEqual(expand('${A}-${B:-x}-$${C}', { A: '1' }), { ok: true, text: '1-x-${C}' });
    assert.deepEqual(expand('${A:-x}', { A: '' }), { ok: true, text: 'x' });
    assert.deepEqual(expand('cost: $5', {}), { ok: true, text: 'cost: $5' });
    const unset = expand('ab${NOPE}', {});
    assert.ok(!unset.ok);
    assert.equal(unset.index, 2);
    assert.match(unset.message, /NOPE is not set/);
    assert.ok(!expand('${A', {}).ok);
    assert.ok(!expand('${1A}', {}).ok);
  });

  it('uses the default when unset and the variable when set', () => {
    const text = withPool().replace('127.0.0.1:22121', '${HOST:-127.0.0.1}:${PORT:-22121}');
    assert.deepEqual(pool(text).listen, { kind: 'tcp', host: '127.0.0.1', port: 22121 });
    assert.deepEqual(pool(text, { HOST: '0.0.0.0', PORT: '7777' }).listen, {
      kind: 'tcp',
      host: '0.0.0.0',
      port: 7777,
    });
  });

  it('types a plain value after expansion and keeps a quoted one a string', () => {
    const pools =
      'redis:\n  a:\n    listen: 127.0.0.1:7000\n    redis: true\n    servers: [b:1:1]\n';
    assert.equal(parse(`workers: \${W:-4}\n${pools}`).workers, 4);
    assert.equal(parse(`workers: \${W:-4}\n${pools}`, { W: 'auto' }).workers, null);
    at(
      issue(`workers: "\${W:-4}"\n${pools}`),
      1,
      10,
      'workers',
      /expected an integer of at least 1 or 'auto', got '4'/,
    );
    assert.equal(pool(withPool('redis: ${R:-true}')).redis, true);
    assert.equal(pool(withPool('redis_auth: "${PASS}"'), { PASS: '1234' }).redisAuth, '1234');
  });

  it('expands keys too', () => {
    const config = parse(
      `\${POOL:-cache}:\n  listen: 127.0.0.1:7000\n  redis: true\n  servers: [b:1:1]\n`,
    );
    assert.equal(config.redis[0].name, 'cache');
  });

  it('reports an unset variable where it is written, once', () => {
    const found = issue(withPool('redis_auth: secret-${PASSWORD}'));
    at(found, 3, 22, 'p.redis_auth', /environment variable PASSWORD is not set/);
    const quoted = issue(withPool('redis_auth: "x${A}${PASSWORD}"'), { A: 'a' });
    at(quoted, 3, 21, 'p.redis_auth', /PASSWORD is not set/);
  });
});

describe('config: environment overrides', () => {
  const text =
    'workers: 2\nlog:\n  level: warn\nredis:\n  a:\n    listen: 127.0.0.1:7000\n    redis: true\n    servers: [b:1:1]\n';

  it('LEGATE_WORKERS and LEGATE_LOG_LEVEL win over the file', () => {
    const config = parse(text, { LEGATE_WORKERS: '8', LEGATE_LOG_LEVEL: 'trace' });
    assert.equal(config.workers, 8);
    assert.equal(config.log.level, 'trace');
    assert.equal(parse(text, { LEGATE_WORKERS: 'auto' }).workers, null);
    assert.equal(parse(text, { LEGATE_WORKERS: '' }).workers, 2, 'empty counts as unset');
    assert.equal(loadConfig(repoFile('nutcracker.yml'), { LEGATE_WORKERS: '3' }).workers, 3);
  });

  it('refuses bad values, naming the variable', () => {
    const found = issues(text, { LEGATE_WORKERS: 'many', LEGATE_LOG_LEVEL: 'verbose' });
    assert.equal(found.length, 2);
    assert.deepEqual(
      found.map((i) => [i.file, i.line, i.path]),
      [
        ['test.yml', 0, '$LEGATE_WORKERS'],
        ['test.yml', 0, '$LEGATE_LOG_LEVEL'],
      ],
    );
    assert.match(found[0].message, /expected an integer of at least 1 or 'auto', got 'many'/);
    assert.match(found[1].message, /expected one of fatal, .*; got 'verbose'/);
    assert.match(formatIssue(found[0]), /^test\.yml: \$LEGATE_WORKERS: expected/);
    at(issue(text, { LEGATE_WORKERS: '0' }), 0, 0, '$LEGATE_WORKERS', /at least 1/);
  });
});

describe('config: bad input is reported where it is, with what to do', () => {
  it('YAML syntax errors', () => {
    at(issue('p:\n  listen: [1, 2\n'), 3, 1, '', /^invalid YAML: /);
  });

  it('an unknown key, with a suggestion', () => {
    at(
      issue(withPool('timout: 10')),
      3,
      3,
      'p.timout',
      /unknown key 'timout' in pool 'p' \(did you mean 'timeout'\?\)/,
    );
    at(issue(withPool('hash-tag: "{}"')), 3, 3, 'p.hash-tag', /did you mean 'hash_tag'/);
    const far = issue(withPool('colour: blue'));
    assert.doesNotMatch(far.message, /did you mean/);
  });

  it('a wrong type', () => {
    at(issue(withPool('timeout: abc')), 3, 12, 'p.timeout', /expected an integer, got 'abc'/);
    at(issue(withPool('backlog: 1.5')), 3, 12, 'p.backlog', /expected an integer, got 1.5/);
    at(issue(withPool('redis: yes')), 3, 10, 'p.redis', /expected true or false, got 'yes'/);
    at(
      issue('p:\n  listen: [1]\n  servers: [a:1:1]\n  redis: true\n'),
      2,
      11,
      'p.listen',
      /expected a string, got a list/,
    );
  });

  it('a bad enum value, listing the allowed ones', () => {
    at(
      issue(withPool('distribution: consistent')),
      3,
      17,
      'p.distribution',
      /expected one of ketama, modula, random; got 'consistent'/,
    );
    at(
      issue(withPool('hash: fnv1a64')),
      3,
      9,
      'p.hash',
      /expected one of one_at_a_time, .*jenkins; got 'fnv1a64' \(did you mean 'fnv1a_64'\?\)/,
    );
  });

  it('a key given twice, named', () => {
    at(
      issue(withPool('timeout: 1', 'timeout: 2')),
      4,
      3,
      'p.timeout',
      /key 'timeout' is given twice \(first on line 3\)/,
    );
  });

  it('two pools on one listen', () => {
    const text = `${withPool()}${withPool().replace(/^p:/, 'q:')}`;
    at(
      issue(text),
      7,
      11,
      'q.listen',
      /pool 'q' listens on 127\.0\.0\.1:22121, which pool 'p' already uses \(on line 2\)/,
    );
  });

  it('a malformed server line, saying which form is expected', () => {
    const text = withPool().replace('127.0.0.1:6380:1', 'redis-0:6379');
    at(
      issue(text),
      4,
      7,
      'p.servers[0]',
      /expected 'host:port:weight \[name\]' or '\/path\/to\.sock:weight \[name\]', got 'redis-0:6379' \(is the weight missing\?\)/,
    );
  });

  it('a weight of 0 or less', () => {
    at(
      issue(withPool().replace(':6380:1', ':6380:0')),
      4,
      7,
      'p.servers[0]',
      /weight must be at least 1, got 0/,
    );
    at(
      issue(withPool().replace(':6380:1', ':6380:-2')),
      4,
      7,
      'p.servers[0]',
      /weight must be at least 1, got -2/,
    );
  });

  it('a port out of 1..65535', () => {
    at(
      issue(withPool().replace(':6380:1', ':65536:1')),
      4,
      7,
      'p.servers[0]',
      /port must be between 1 and 65535, got 65536/,
    );
    at(
      issue(withPool().replace(':22121', ':0')),
      2,
      11,
      'p.listen',
      /port must be between 1 and 65535, got 0/,
    );
  });

  it('a duplicate server name', () => {
    const text = withPool().replace(
      '    - 127.0.0.1:6380:1',
      '    - 127.0.0.1:6380:1 a\n    - 127.0.0.1:6381:1 a',
    );
    at(issue(text), 5, 7, 'p.servers[1]', /server name 'a' is used twice \(first on line 4\)/);
  });

  it('a hash_tag that is not 2 characters', () => {
    at(
      issue(withPool('hash_tag: "{"')),
      3,
      13,
      'p.hash_tag',
      /must be exactly 2 characters.*got '\{'/,
    );
    at(issue(withPool('hash_tag: "{{}"')), 3, 13, 'p.hash_tag', /exactly 2 characters/);
  });

  it('negative numbers', () => {
    at(
      issue(withPool('server_retry_timeout: -5')),
      3,
      25,
      'p.server_retry_timeout',
      /must be at least 0, got -5/,
    );
    at(
      issue(withPool('server_connections: 0')),
      3,
      23,
      'p.server_connections',
      /must be at least 1, got 0/,
    );
  });

  it('an empty or missing servers list', () => {
    const empty = withPool().replace('  servers:\n    - 127.0.0.1:6380:1', '  servers: []');
    at(issue(empty), 3, 12, 'p.servers', /is empty; list at least one server/);
    const blank = withPool().replace('    - 127.0.0.1:6380:1\n', '');
    at(issue(blank), 3, 3, 'p.servers', /expected a list of .* lines, got nothing/);
    const missing = 'p:\n  listen: 127.0.0.1:7000\n  hash: md5\n  redis: true\n';
    at(issue(missing), 1, 1, 'p', /pool 'p' has no 'servers', which is required/);
  });

  it('reports every mistake in the file at once, in file order', () => {
    const text = withPool('hash: fnv', 'timeout: -1', 'preconect: true');
    const found = issues(text);
    assert.equal(found.length, 3, found.map(formatIssue).join('\n'));
    at(found[0], 3, 9, 'p.hash', /expected one of/);
    at(found[1], 4, 12, 'p.timeout', /must be at least 0, got -1/);
    at(found[2], 5, 3, 'p.preconect', /did you mean 'preconnect'/);
    const error = (() => {
      try {
        parse(text);
      } catch (e) {
        return e as ConfigError;
      }
    })();
    assert.equal(error?.message.split('\n').length, 3);
    assert.match(error?.message ?? '', /^test\.yml:3:9: p\.hash: expected one of/);
  });

  it('an empty file', () => {
    at(issue(''), 1, 1, '', /the file is empty/);
  });

  it('a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'legate-config-'));
    const file = join(dir, 'nope.yml');
    assert.throws(
      () => loadConfig(file, {}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'LEGATE_CONFIG');
        assert.equal(error.message, `${file}: cannot read the config file: no such file`);
        return true;
      },
    );
    writeFileSync(join(dir, 'ok.yml'), withPool());
    assert.equal(loadConfig(join(dir, 'ok.yml'), {}).redis[0].name, 'p');
  });
});
