// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about ${VAR} in haproxy.cfg text, not JS templates.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { evaluateCondition } from '../../engine/config/dialects/haproxy/condition.ts';
import { lexLine } from '../../engine/config/dialects/haproxy/lexer.ts';
import { parseTime } from '../../engine/config/dialects/haproxy/units.ts';
import { looksLikeHaproxy } from '../../engine/config/dialects/haproxy.ts';
import { ConfigError, type ConfigIssue } from '../../engine/config/errors.ts';
import { parseConfig } from '../../engine/config/load.ts';
import type { TcpBackendConfig } from '../../engine/config/tcp-types.ts';
import type { LegateConfig } from '../../engine/config/types.ts';
import { configIssues } from '../helpers/config.ts';
import { run, runLegate, writeConfig } from '../helpers/processes.ts';

const SAMPLE = fileURLToPath(new URL('../../config/haproxy.cfg', import.meta.url));
const sample = readFileSync(SAMPLE, 'utf8');

function parse(text: string, env: NodeJS.ProcessEnv = {}): LegateConfig {
  return parseConfig(text, 'h.cfg', env);
}

function issues(text: string, env: NodeJS.ProcessEnv = {}): readonly ConfigIssue[] {
  return configIssues(text, 'h.cfg', env);
}

/** The one issue the text produces, as `line:column: path: message`. */
function refusal(text: string, env: NodeJS.ProcessEnv = {}): string {
  const found = issues(text, env);
  assert.equal(
    found.length,
    1,
    `expected one issue, got:\n${found.map((i) => i.message).join('\n')}`,
  );
  const [i] = found;
  return `${i.line}:${i.column}: ${i.path}: ${i.message}`;
}

/** The warnings of a file that loads, as `line:column: path: message`. */
function warnings(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  return parse(text, env).warnings.map((i) => `${i.line}:${i.column}: ${i.path}: ${i.message}`);
}

/** A complete file around `body`, which goes in `backend b` (or wherever `where` says). */
const TIMEOUTS = 'defaults\n  timeout connect 5s\n  timeout client 1m\n  timeout server 1m\n';
function backend(body: string, defaults = ''): string {
  return `${TIMEOUTS}${defaults}frontend f\n  bind 127.0.0.1:5432\n  default_backend b\nbackend b\n${body}`;
}
function theBackend(text: string, env: NodeJS.ProcessEnv = {}): TcpBackendConfig {
  const b = parse(text, env).tcp.backends.find((x) => x.name === 'b');
  assert.ok(b);
  return b;
}

const TIMING = { intervalMs: 2000, fall: 3, rise: 2, timeoutMs: 3000 };
const PG_CHECK = {
  kind: 'postgres',
  user: 'haproxy',
  database: null,
  password: null,
  ssl: 'disable',
  requirePrimary: false,
} as const;

describe('haproxy dialect: the seed ambassador config', () => {
  it('dev (APP_ENV unset: presetenv sets dev) reaches the local database', () => {
    const config = parse(sample);
    assert.equal(config.dialect, 'haproxy');
    assert.deepEqual(config.redis, []);
    assert.deepEqual(config.tcp.services, [
      {
        name: 'pg_local',
        listen: [{ kind: 'tcp', host: '127.0.0.1', port: 5432 }],
        maxconn: 200,
        backend: 'pg_dev',
        clientTimeoutMs: 30 * 60_000,
        clientFinTimeoutMs: 30_000,
      },
    ]);
    const dev = config.tcp.backends[0];
    assert.deepEqual(dev, {
      name: 'pg_dev',
      balance: 'roundrobin',
      servers: [
        {
          name: 'local',
          host: '127.0.0.1',
          port: 15432,
          weight: 1,
          backup: false,
          maxconn: null,
          check: true,
          timing: TIMING,
          sendProxy: null,
          resolve: false,
          initAddrNone: true,
          source: 'h.cfg:35',
          id: null,
        },
      ],
      check: PG_CHECK,
      postgres: true,
      connectTimeoutMs: 5000,
      serverTimeoutMs: 30 * 60_000,
      tunnelTimeoutMs: null,
      queueTimeoutMs: null,
      retries: 3,
      redispatch: true,
      shutdownSessionsOnDown: true,
      allBackups: false,
      dns: null,
    });
  });

  it('prod (APP_ENV=prod) reaches the managed service, re-resolved through resolvers dns', () => {
    const config = parse(sample, {
      APP_ENV: 'prod',
      RDS_HOST: 'db.example.com',
      FALLBACK_HOST: 'standby.example.com',
      PG_CHECK_USER: 'monitor',
    });
    assert.equal(config.tcp.services[0].backend, 'pg_prod');
    assert.deepEqual(config.warnings, []);
    const prod = config.tcp.backends[1];
    assert.equal(prod.name, 'pg_prod');
    assert.deepEqual(prod.check, { ...PG_CHECK, user: 'monitor' });
    assert.deepEqual(
      prod.servers.map((s) => [s.name, s.host, s.port, s.backup, s.maxconn, s.resolve]),
      [
        ['primary', 'db.example.com', 5432, false, 100, true],
        ['standby', 'standby.example.com', 5432, true, null, true],
      ],
    );
    assert.deepEqual(prod.dns, {
      nameservers: [],
      intervalMs: 1000,
      holdValidMs: 10000,
      retries: 3,
      retryMs: 1000,
    });
  });

  it('DEV_DB_ADDR moves the dev server', () => {
    const config = parse(sample, { DEV_DB_ADDR: '10.1.2.3:6543' });
    assert.deepEqual(
      [config.tcp.backends[0].servers[0].host, config.tcp.backends[0].servers[0].port],
      ['10.1.2.3', 6543],
    );
  });

  it('in dev, the unused prod servers with unset hosts are warned about, as 0.0.0.0', () => {
    assert.deepEqual(warnings(sample), [
      "38:20: backend pg_prod: server 'primary' has no host (an unset variable?): HAProxy reads that as 0.0.0.0, this machine, and so does legate",
      "39:20: backend pg_prod: server 'standby' has no host (an unset variable?): HAProxy reads that as 0.0.0.0, this machine, and so does legate",
    ]);
  });
});

describe('haproxy dialect: detection by content', () => {
  it('a first statement that is a section keyword or .if is an haproxy.cfg', () => {
    for (const text of [
      'global\n',
      '# comment\n\n  frontend f\n',
      'defaults\n',
      'backend b\n',
      'listen l\n',
      'resolvers dns\n',
      'peers p\n',
      'userlist u\n',
      '.if defined(X)\nglobal\n.endif\n',
      'frontend#comment\n',
    ]) {
      assert.equal(looksLikeHaproxy(text), true, text);
    }
  });

  it('YAML files are not, including ones with a key named like a section', () => {
    const repo = (name: string) =>
      readFileSync(fileURLToPath(new URL(`../../config/${name}`, import.meta.url)), 'utf8');
    for (const text of [
      repo('legate.yml'),
      repo('nutcracker.yml'),
      'global:\n  listen: 1\n',
      'frontend: {}\n',
      '',
      '# only a comment\n',
    ]) {
      assert.equal(looksLikeHaproxy(text), false, text);
    }
  });
});

describe('haproxy dialect: environment variables (configuration.txt 2.3)', () => {
  const words = (line: string, env: Record<string, string> = {}) => {
    const lexed = lexLine(line, (name) => env[name]);
    assert.ok(lexed.ok, JSON.stringify(lexed));
    return lexed.words.map((w) => w.text);
  };

  it('"$NAME" and "${NAME}" expand inside double quotes', () => {
    assert.deepEqual(words('x "$V" "${V}y" "$V.z"', { V: 'val' }), ['x', 'val', 'valy', 'val.z']);
  });
  it('"$NAMEy" names the variable NAMEy', () => {
    assert.deepEqual(words('x "[$Vy]"', { V: 'val' }), ['x', '[]']);
  });
  it('an unset variable expands to nothing, without error', () => {
    assert.deepEqual(words('x "[$NOPE]" "[${NOPE}]"'), ['x', '[]', '[]']);
  });
  it('a default applies when the variable is unset', () => {
    assert.deepEqual(words('x "${NOPE-def}"'), ['x', 'def']);
  });
  it('a default does not apply when the variable is set but empty', () => {
    assert.deepEqual(words('x "[${E-def}]"', { E: '' }), ['x', '[]']);
  });
  it('a default is literal up to the first closing brace', () => {
    assert.deepEqual(words('x "${NOPE-${V}}"', { V: 'val' }), ['x', '${V}']);
  });
  it('"${NAME[*]}" splits the value into words, joined to the text around it', () => {
    assert.deepEqual(words('x "${S[*]}"', { S: 'a b' }), ['x', 'a', 'b']);
    assert.deepEqual(words('x "p${S[*]}q"', { S: 'a  b' }), ['x', 'pa', 'bq']);
  });
  it('unquoted and single-quoted variables stay literal', () => {
    assert.deepEqual(words("x $V ${V} '$V' '${V-d}'", { V: 'val' }), [
      'x',
      '$V',
      '${V}',
      '$V',
      '${V-d}',
    ]);
  });
  it('a backslash keeps a dollar literal inside double quotes', () => {
    assert.deepEqual(words('x "\\$V"', { V: 'val' }), ['x', '$V']);
  });
  it('a bad variable name is an error', () => {
    assert.deepEqual(
      lexLine('x "$1"', () => undefined),
      {
        ok: false,
        column: 5,
        message: 'forbidden first character in environment variable name',
      },
    );
    assert.deepEqual(
      lexLine('x "${V"', () => undefined),
      {
        ok: false,
        column: 5,
        message: 'unmatched brace in environment variable name',
      },
    );
  });
  it('setenv overwrites and presetenv does not; later lines see them, earlier ones do not', () => {
    const text = `global\n  setenv A "x$B"\n  setenv B set\n  presetenv C preset\n  presetenv D preset\n  setenv E "$A$B$C$D"\n${TIMEOUTS}listen l\n  bind 127.0.0.1:1\n  server s "$E":5432\n`;
    const config = parse(text, { C: 'env', D: '' });
    assert.equal(config.tcp.backends[0].servers[0].host, 'xsetenv');
  });
  it('unsetenv removes a variable; .LINE and .SECTION are HAProxy pseudo-variables', () => {
    const text = `global\n  unsetenv H\n${TIMEOUTS}listen l\n  bind 127.0.0.1:1\n  server "s${'${.LINE}'}${'${.SECTION}'}${'${.FILE}'}" "${'${H-x}'}:5"\n`;
    const server = parse(text, { H: 'h' }).tcp.backends[0].servers[0];
    assert.deepEqual([server.name, server.host], ['s9lh.cfg', 'x']);
  });
});

describe('haproxy dialect: quoting and escaping (configuration.txt 2.2)', () => {
  const lex = (line: string) => lexLine(line, () => undefined);
  it('escapes outside quotes, weak and strong quotes, words glued together', () => {
    assert.deepEqual(lex('a\\ b \\#c "d e" \'f g\' "h"i\'j\' \\x41 "\\t" #comment'), {
      ok: true,
      words: [
        { text: 'a b', column: 1 },
        { text: '#c', column: 6 },
        { text: 'd e', column: 10 },
        { text: 'f g', column: 16 },
        { text: 'hij', column: 22 },
        { text: 'A', column: 30 },
        { text: '\t', column: 35 },
      ],
    });
  });
  it('an empty quoted word is a word; an unknown escape keeps its backslash', () => {
    const lexed = lex('a "" \\d');
    assert.ok(lexed.ok);
    assert.deepEqual(
      lexed.words.map((w) => w.text),
      ['a', '', '\\d'],
    );
  });
  it('an unmatched quote is an error at the quote', () => {
    assert.deepEqual(lex('x "abc'), { ok: false, column: 3, message: 'unmatched quote' });
  });
  it('a truncated \\x is an error', () => {
    assert.deepEqual(lex('x \\xZZ'), {
      ok: false,
      column: 3,
      message: 'truncated or invalid hexadecimal sequence',
    });
  });
});

describe('haproxy dialect: conditions (configuration.txt 2.4)', () => {
  const env: Record<string, string> = { A: 'yes', EMPTY: '' };
  const cond = (text: string) => {
    const r = evaluateCondition(text, (n) => env[n]);
    assert.ok(r.ok, JSON.stringify(r));
    return r.value;
  };
  it('integers, empty, predicates, negation, && before ||, parentheses', () => {
    assert.equal(cond(''), false);
    assert.equal(cond('0'), false);
    assert.equal(cond('1'), true);
    assert.equal(cond('defined(A)'), true);
    assert.equal(cond('defined(EMPTY)'), true);
    assert.equal(cond('defined(NOPE)'), false);
    assert.equal(cond('streq(a,a)'), true);
    assert.equal(cond('streq(a, a)'), false);
    assert.equal(cond('strneq(a,b)'), true);
    assert.equal(cond('!defined(NOPE)'), true);
    assert.equal(cond('0 && 1 || 1'), true);
    assert.equal(cond('0 && (1 || 1)'), false);
    assert.equal(cond('!(0 || 0)'), true);
    assert.equal(cond('streq(\'a,b\',"a,b")'), true);
    assert.equal(cond('version_atleast(2.4-dev19)'), true);
    assert.equal(cond('version_before(2.9)'), false);
  });
  it('nested blocks, .elif chains and .else', () => {
    const pick = (envs: NodeJS.ProcessEnv) =>
      parse(
        `${TIMEOUTS}listen l\n  bind 127.0.0.1:1\n` +
          '.if defined(A)\n' +
          '  .if streq("$B",x)\n    server ax 127.0.0.1:1\n' +
          '  .elif streq("$B",y)\n    server ay 127.0.0.1:1\n' +
          '  .else\n    server a 127.0.0.1:1\n  .endif\n' +
          '.elif defined(C)\n  server c 127.0.0.1:1\n' +
          '.else\n  server none 127.0.0.1:1\n.endif\n',
        envs,
      ).tcp.backends[0].servers.map((s) => s.name);
    assert.deepEqual(pick({ A: '', B: 'x' }), ['ax']);
    assert.deepEqual(pick({ A: '', B: 'y', C: '' }), ['ay']);
    assert.deepEqual(pick({ A: '' }), ['a']);
    assert.deepEqual(pick({ C: '' }), ['c']);
    assert.deepEqual(pick({}), ['none']);
  });
  it('a lone .else or .endif, an unclosed .if, a second .else are refused', () => {
    assert.equal(refusal('global\n.else\n'), "2:1: global: lone '.else' with no matching '.if'");
    assert.equal(refusal('global\n.endif\n'), "2:1: global: lone '.endif' with no matching '.if'");
    assert.equal(refusal('global\n.if 1\n'), "2:1: : '.if' is not closed by '.endif'");
    assert.equal(
      refusal('global\n.if 1\n.else\n.else\n.endif\n'),
      "4:1: global: '.else' after '.else' (line of the '.if': 2)",
    );
  });
  it('an unparsable condition is refused with its place', () => {
    assert.equal(
      refusal('global\n.if foo\n.endif\n'),
      "2:5: global: unparsable conditional expression 'foo' in '.if'",
    );
    assert.equal(
      refusal('global\n.if 1 2\n.endif\n'),
      "2:7: global: unexpected character '2' at the end of conditional expression '1 2' in '.if'",
    );
  });
  it('as in HAProxy: skipped lines are still lexed; the conditions of a skipped branch are not evaluated', () => {
    assert.equal(
      refusal('global\n.if 0\n  x "$1"\n.endif\n'),
      '3:7: global: forbidden first character in environment variable name',
    );
    const ok = backend('  server s h:1\n');
    assert.equal(parse(`.if 0\n  .if foo(\n  .endif\n.endif\n${ok}`).dialect, 'haproxy');
    assert.equal(parse(`.if 1\n.elif foo\n.endif\n${ok}`).dialect, 'haproxy');
    assert.equal(
      refusal(`.if 0\n.elif foo\n.endif\n${ok}`),
      "2:7: : unparsable conditional expression 'foo' in '.elif'",
    );
  });
  it('feature() is refused: legate has no HAProxy build options', () => {
    assert.match(
      refusal('global\n.if feature(OPENSSL)\n.endif\n'),
      /^2:5: global: feature\(OPENSSL\) asks about HAProxy's build options/,
    );
  });
  it('.warning and .notice are warnings, .alert refuses the file', () => {
    const ok = `${TIMEOUTS}listen l\n  bind 127.0.0.1:1\n  server s 127.0.0.1:2\n.warning "careful"\n`;
    assert.deepEqual(warnings(ok), ['8:1: listen l: .warning: careful']);
    assert.equal(refusal('global\n.alert "no way"\n'), '2:1: global: .alert: no way');
  });
});

describe('haproxy dialect: time units (configuration.txt 2.5)', () => {
  it('default ms; us, ms, s, m, h, d', () => {
    assert.equal(parseTime('1500'), 1500);
    assert.equal(parseTime('100us'), 1);
    assert.equal(parseTime('2500us'), 3);
    assert.equal(parseTime('250ms'), 250);
    assert.equal(parseTime('2s'), 2000);
    assert.equal(parseTime('30m'), 1_800_000);
    assert.equal(parseTime('1h'), 3_600_000);
    assert.equal(parseTime('1d'), 86_400_000);
  });
  it('a timeout with a bad unit is refused', () => {
    assert.equal(
      refusal(backend('  timeout server 5x\n  server s 127.0.0.1:1\n')),
      "9:18: backend b: 'timeout server': unknown time unit 'x' in '5x'; HAProxy's units are us, ms, s, m, h, d",
    );
  });
  it('a time past 2^31-1 ms is refused', () => {
    assert.match(
      refusal(backend('  timeout server 30d\n  server s 127.0.0.1:1\n')),
      /'30d' is too large/,
    );
  });
});

describe("haproxy dialect: HAProxy's defaults", () => {
  it('a bare server: inter 2000, fall 3, rise 2, weight 1, no check; retries 3, roundrobin, tcp check', () => {
    const b = parse(
      'frontend f\n  bind :5432\n  default_backend b\nbackend b\n  server s db:5432 check\n',
    ).tcp.backends[0];
    assert.deepEqual(b.servers[0].timing, { intervalMs: 2000, fall: 3, rise: 2, timeoutMs: null });
    assert.equal(b.servers[0].weight, 1);
    assert.equal(b.servers[0].initAddrNone, false);
    assert.equal(b.retries, 3);
    assert.equal(b.balance, 'roundrobin');
    assert.deepEqual(b.check, { kind: 'tcp' });
    assert.equal(b.queueTimeoutMs, null, 'null: the engine uses the connect timeout, as HAProxy');
    assert.equal(b.redispatch, false);
    assert.equal(b.allBackups, false);
    assert.equal(b.serverTimeoutMs, null);
  });
  it('bind forms: :port and *:port are every IPv4 address; [v6]:port, ::port, ipv6@, unix sockets', () => {
    const config = parse(
      `${TIMEOUTS}listen l\n  bind :1,*:2,127.0.0.1:3,[::1]:4,:::5,ipv6@:6,ipv4@10.0.0.1:7,/tmp/l.sock\n  server s 127.0.0.1:9\n`,
    );
    assert.deepEqual(config.tcp.services[0].listen, [
      { kind: 'tcp', host: '0.0.0.0', port: 1 },
      { kind: 'tcp', host: '0.0.0.0', port: 2 },
      { kind: 'tcp', host: '127.0.0.1', port: 3 },
      { kind: 'tcp', host: '::1', port: 4 },
      { kind: 'tcp', host: '::', port: 5 },
      { kind: 'tcp', host: '::', port: 6 },
      { kind: 'tcp', host: '10.0.0.1', port: 7 },
      { kind: 'unix', path: '/tmp/l.sock' },
    ]);
  });
  it('a listen section serves its own servers; global maxconn is the default for services', () => {
    const config = parse(
      `global\n  maxconn 300\n${TIMEOUTS}listen l\n  bind 127.0.0.1:1\n  server s [::1]:2\n`,
    );
    assert.deepEqual(config.tcp.services[0].backend, 'l');
    assert.equal(config.tcp.services[0].maxconn, 300);
    assert.equal(config.tcp.backends[0].servers[0].host, '::1');
  });
  it('an unconditional use_backend wins over default_backend', () => {
    const config = parse(
      `${TIMEOUTS}frontend f\n  bind 127.0.0.1:1\n  default_backend a\n  use_backend b\nbackend a\n  server s 127.0.0.1:2\nbackend b\n  server s 127.0.0.1:3\n`,
    );
    assert.equal(config.tcp.services[0].backend, 'b');
  });
  it('LEGATE_WORKERS and LEGATE_LOG_LEVEL apply to an haproxy.cfg too; a bad one is refused', () => {
    const text = backend('  server s 127.0.0.1:1\n');
    const config = parse(text, { LEGATE_WORKERS: '3', LEGATE_LOG_LEVEL: 'debug' });
    assert.deepEqual([config.workers, config.log.level], [3, 'debug']);
    assert.equal(
      refusal(text, { LEGATE_WORKERS: 'many' }),
      "0:0: $LEGATE_WORKERS: expected an integer of at least 1 or 'auto', got 'many' (environment variable overriding workers)",
    );
  });
  it('hard-stop-after becomes the drain timeout', () => {
    const config = parse(`global\n  hard-stop-after 30s\n${backend('  server s 127.0.0.1:1\n')}`);
    assert.equal(config.drainTimeoutMs, 30_000);
  });
});

describe('haproxy dialect: defaults inheritance', () => {
  it('a proxy takes the latest defaults; a new defaults section starts from scratch', () => {
    const config = parse(
      'defaults\n  timeout connect 1s\n  retries 5\n  balance leastconn\n' +
        'listen one\n  bind 127.0.0.1:1\n  server s 127.0.0.1:9\n' +
        'defaults\n  timeout server 2s\n' +
        'listen two\n  bind 127.0.0.1:2\n  server s 127.0.0.1:9\n',
    );
    const [one, two] = config.tcp.backends;
    assert.deepEqual([one.connectTimeoutMs, one.retries, one.balance], [1000, 5, 'leastconn']);
    assert.deepEqual(
      [two.connectTimeoutMs, two.serverTimeoutMs, two.retries, two.balance],
      [127_000, 2000, 3, 'roundrobin'],
    );
  });
  it('named defaults, "from", and defaults built on defaults', () => {
    const config = parse(
      'defaults base\n  timeout connect 1s\n  option redispatch\n' +
        'defaults long from base\n  timeout server 1h\n' +
        'defaults other\n  retries 9\n' +
        'listen l from long\n  bind 127.0.0.1:1\n  server s 127.0.0.1:9\n' +
        'listen m\n  bind 127.0.0.1:2\n  server s 127.0.0.1:9\n',
    );
    const [l, m] = config.tcp.backends;
    assert.deepEqual(
      [l.connectTimeoutMs, l.serverTimeoutMs, l.redispatch, l.retries],
      [1000, 3_600_000, true, 3],
    );
    assert.deepEqual([m.retries, m.redispatch], [9, false]);
  });
  it('default-server merges: defaults, then the backend, then the server line', () => {
    const b = theBackend(
      backend(
        '  default-server rise 7 weight 20\n  server s 127.0.0.1:1 weight 3 no-check\n  server t 127.0.0.1:2\n',
        '  default-server inter 5s fall 4 check\n',
      ),
    );
    assert.deepEqual(
      b.servers.map((s) => [
        s.name,
        s.timing.intervalMs,
        s.timing.fall,
        s.timing.rise,
        s.weight,
        s.check,
      ]),
      [
        ['s', 5000, 4, 7, 3, false],
        ['t', 5000, 4, 7, 20, true],
      ],
    );
  });
  it("'no option redispatch' undoes the defaults' option", () => {
    const b = theBackend(
      backend(
        '  no option redispatch\n  server s 127.0.0.1:1\n',
        '  option redispatch\n  option allbackups\n',
      ),
    );
    assert.deepEqual([b.redispatch, b.allBackups], [false, true]);
  });
  it("tcp-check rules from defaults are replaced by the backend's own", () => {
    const b = theBackend(
      backend(
        '  tcp-check connect\n  tcp-check send-binary 0a0B\n  tcp-check expect ! rstring ^-ERR\n  server s 127.0.0.1:1 check\n',
        '  option tcp-check\n  tcp-check send PING\\r\\n\n',
      ),
    );
    assert.deepEqual(b.check, {
      kind: 'send-expect',
      steps: [
        { op: 'connect', port: null },
        { op: 'send', data: Uint8Array.from([0x0a, 0x0b]) },
        { op: 'expect', negate: true, match: 'rstring', pattern: '^-ERR' },
      ],
    });
  });
});

describe('haproxy dialect: server lines and checks', () => {
  it('every server keyword legate reads', () => {
    const b = theBackend(
      `resolvers dns\n  nameserver ns1 127.0.0.1:53\n  timeout resolve 5s\n  hold valid 30s\n${backend('  balance first\n  timeout check 2s\n  timeout queue 4s\n  timeout tunnel 1h\n  option redis-check\n  server s db:6379 check inter 500 fall 1 rise 1 backup weight 0 maxconn 10 resolvers dns init-addr libc,none on-marked-down shutdown-sessions send-proxy-v2 id 7\n  server t db:6380 send-proxy on-marked-down shutdown-sessions\n')}`,
    );
    assert.deepEqual(b.servers[0], {
      name: 's',
      host: 'db',
      port: 6379,
      weight: 0,
      backup: true,
      maxconn: 10,
      check: true,
      timing: { intervalMs: 500, fall: 1, rise: 1, timeoutMs: 2000 },
      sendProxy: 'v2',
      resolve: true,
      initAddrNone: true,
      source: 'h.cfg:18',
      id: 7,
    });
    assert.equal(b.servers[1].sendProxy, 'v1');
    assert.equal(b.servers[1].id, null);
    assert.deepEqual(b.check, { kind: 'redis' });
    assert.equal(b.balance, 'first');
    assert.deepEqual([b.queueTimeoutMs, b.tunnelTimeoutMs], [4000, 3_600_000]);
    assert.deepEqual(b.dns, {
      nameservers: [{ host: '127.0.0.1', port: 53 }],
      intervalMs: 5000,
      holdValidMs: 30_000,
      retries: 3,
      retryMs: 1000,
    });
  });
  it('hash-type: map-based (any function) is what balance source runs; consistent matters only to source', () => {
    assert.equal(
      theBackend(backend('  balance source\n  hash-type map-based sdbm\n  server s h:1\n')).balance,
      'source',
    );
    assert.deepEqual(warnings(backend('  hash-type consistent\n  server s h:1\n')), []);
  });
  it('option mysql-check with and without a user; option tcp-check without rules is a connect check', () => {
    assert.deepEqual(theBackend(backend('  option mysql-check\n  server s h:1\n')).check, {
      kind: 'mysql',
      user: null,
    });
    assert.deepEqual(
      theBackend(backend('  option mysql-check user app post-41\n  server s h:1\n')).check,
      { kind: 'mysql', user: 'app' },
    );
    assert.deepEqual(theBackend(backend('  option tcp-check\n  server s h:1\n')).check, {
      kind: 'tcp',
    });
  });
  it('tcp-check send/expect kinds; a connect is put first when the rules do not start with one', () => {
    const b = theBackend(
      backend(
        '  option tcp-check\n  tcp-check send "PING\\r\\n" comment ping\n  tcp-check expect string +PONG\n  tcp-check expect binary 2b50\n  tcp-check expect rbinary ^2b\n  tcp-check connect port 6380\n  server s h:1 check\n',
      ),
    );
    assert.deepEqual(b.check, {
      kind: 'send-expect',
      steps: [
        { op: 'connect', port: null },
        { op: 'send', data: new TextEncoder().encode('PING\r\n') },
        { op: 'expect', negate: false, match: 'string', pattern: '+PONG' },
        { op: 'expect', negate: false, match: 'binary', pattern: '2b50' },
        { op: 'expect', negate: false, match: 'rbinary', pattern: '^2b' },
        { op: 'connect', port: 6380 },
      ],
    });
  });
  it('a resolvers section may come after the servers that name it', () => {
    const text = `${backend('  server s h:1 resolvers later\n')}resolvers later\n  parse-resolv-conf\n`;
    assert.equal(theBackend(text).servers[0].resolve, true);
  });
});

describe('haproxy dialect: refusals, each with its place and what to do', () => {
  const cases: [string, string, string][] = [
    [
      'mode http',
      backend('  mode http\n  server s h:1\n'),
      "9:8: backend b: mode http is not read by legate's HAProxy dialect, which runs the TCP broker (mode tcp); for HTTP use legate's nginx, envoy or native http dialects",
    ],
    [
      'an unknown keyword, with a suggestion',
      backend('  retires 3\n  server s h:1\n'),
      "9:3: backend b: unknown keyword 'retires' in backend 'b' (did you mean 'retries'?); see the README's HAProxy dialect section for what legate reads",
    ],
    [
      'a conditional use_backend',
      `${TIMEOUTS}frontend f\n  bind :1\n  use_backend b if TRUE\n  default_backend b\nbackend b\n  server s h:1\n`,
      '7:17: frontend f: a conditional use_backend is not supported: legate sends a service to one backend; choose it with .if/.else on an environment variable and default_backend',
    ],
    [
      'balance static-rr',
      backend('  balance static-rr\n  server s h:1\n'),
      "9:11: backend b: 'balance static-rr' is not supported: use roundrobin: the same share per server in every cycle (legate never changes weights at run time), though with unequal weights the order within a cycle differs from static-rr's map",
    ],
    [
      'balance uri',
      backend('  balance uri\n  server s h:1\n'),
      "9:11: backend b: 'balance uri' is not supported: 'balance uri' is for mode http; for HTTP use legate's nginx, envoy or native http dialects",
    ],
    [
      'balance random',
      backend('  balance random\n  server s h:1\n'),
      "9:11: backend b: 'balance random' is not supported: use leastconn (spreads sessions by load) or roundrobin",
    ],
    [
      'a server without a port',
      backend('  server s 10.0.0.1\n'),
      "9:12: backend b: server address '10.0.0.1' has no port; HAProxy would use the client's destination port, legate needs it written (host:port)",
    ],
    [
      'a unix socket server',
      backend('  server s /run/pg.sock\n'),
      "9:12: backend b: unix socket servers ('/run/pg.sock') are not supported by legate's broker; give host:port",
    ],
    [
      'server ssl',
      backend('  server s h:1 ssl verify none\n'),
      "9:16: backend b: 'ssl' on server: legate passes TLS through untouched and does not speak TLS to servers; remove ssl (PostgreSQL clients negotiate TLS themselves)",
    ],
    [
      'server maxqueue',
      backend('  server s h:1 maxqueue 5\n'),
      "9:16: backend b: 'maxqueue' on server: legate does not cap a server's queue; the wait is bounded by 'timeout queue'",
    ],
    [
      'an unknown server keyword',
      backend('  server s h:1 chekc\n'),
      "9:16: backend b: unknown server keyword 'chekc' (legate reads check, inter, fall, rise, backup, weight, maxconn, id, resolvers, init-addr, on-marked-down, send-proxy, send-proxy-v2, disabled)",
    ],
    [
      'weight above 256',
      backend('  server s h:1 weight 257\n'),
      "9:23: backend b: 'weight' must be between 0 and 256, got 257",
    ],
    [
      'init-addr with a fixed address',
      backend('  server s h:1 init-addr last,10.0.0.1\n'),
      "9:26: backend b: init-addr method '10.0.0.1' is not supported: legate does not start a server on a fixed fallback address; use none to start without one",
    ],
    [
      'a server name given twice',
      backend('  server s h:1\n  server s h:2\n'),
      "10:10: backend b: backend 'b': another server named 's' was already defined at line 9, please use distinct names",
    ],
    [
      'an unknown resolvers section',
      backend('  server s h:1 resolvers nope\n'),
      "9:16: backend b: backend 'b', server 's': unable to find required resolvers 'nope'; add a 'resolvers nope' section",
    ],
    [
      'servers that disagree on on-marked-down',
      backend('  server s h:1 on-marked-down shutdown-sessions\n  server t h:2\n'),
      "9:3: backend b: backend 'b': legate applies 'on-marked-down shutdown-sessions' to a whole backend; give every server the same (use default-server)",
    ],
    [
      'bind ssl',
      `${TIMEOUTS}listen l\n  bind :443 ssl crt /x.pem\n  server s h:1\n`,
      "6:13: listen l: bind option 'ssl' is not supported: legate passes TLS through to the server; remove ssl/crt",
    ],
    [
      'a port range',
      `${TIMEOUTS}listen l\n  bind :5000-5010\n  server s h:1\n`,
      "6:8: listen l: port range '5000-5010' is not supported; list the ports, like bind :5432,:5433",
    ],
    [
      'the same address bound twice',
      `${TIMEOUTS}listen l\n  bind 127.0.0.1:1\n  server s h:1\nlisten m\n  bind 127.0.0.1:1\n  server s h:1\n`,
      '9:8: listen m: 127.0.0.1:1 is bound twice (first on line 6); give each service its own address',
    ],
    [
      'a missing default_backend target',
      `${TIMEOUTS}frontend f\n  bind :1\n  default_backend nope\n`,
      "7:19: frontend f: frontend 'f': unable to find required backend 'nope'",
    ],
    [
      'a frontend without a backend',
      `${TIMEOUTS}frontend f\n  bind :1\n`,
      "5:1: frontend f: frontend 'f' has no default_backend: HAProxy would accept and close every connection; add 'default_backend NAME'",
    ],
    [
      'a frontend without bind',
      `${TIMEOUTS}frontend f\n  default_backend b\nbackend b\n  server s h:1\n`,
      "5:1: frontend f: frontend 'f' has no 'bind' line; add one (like bind 127.0.0.1:5432), or make it a backend",
    ],
    [
      'two backends with one name',
      backend('  server s h:1\nbackend b\n  server s h:1\n'),
      "10:9: backend b: backend 'b' has the same name as the backend on line 8; backend names must be unique",
    ],
    [
      "'server' in defaults",
      'defaults\n  server s h:1\nlisten l\n  bind :1\n',
      "2:3: defaults: 'server' not allowed in 'defaults' section",
    ],
    [
      "'server' in a frontend",
      `${TIMEOUTS}frontend f\n  bind :1\n  server s h:1\n  default_backend b\nbackend b\n  server s h:1\n`,
      "7:3: frontend f: 'server' not allowed in frontend 'f'",
    ],
    [
      "'default-server' in a frontend",
      `${TIMEOUTS}frontend f\n  bind :1\n  default-server inter 1s\n  default_backend b\nbackend b\n  server s h:1\n`,
      "7:3: frontend f: 'default-server' not allowed in frontend 'f'",
    ],
    [
      'option httpchk',
      backend('  option httpchk GET /\n  server s h:1\n'),
      "9:10: backend b: 'option httpchk' is not supported: an HTTP check; for a TCP service write 'option tcp-check' with tcp-check send/expect",
    ],
    [
      'option pgsql-check without a user',
      backend('  option pgsql-check\n  server s h:1\n'),
      "9:10: backend b: 'option pgsql-check' expects 'user <username>' as argument",
    ],
    [
      'option mysql-check pre-41',
      backend('  option mysql-check user u pre-41\n  server s h:1\n'),
      '9:29: backend b: legate speaks the 4.1 protocol only; use post-41 or nothing',
    ],
    [
      'an unknown tcp-check rule',
      backend('  tcp-check set-var(check.x) int(1)\n  server s h:1\n'),
      "9:13: backend b: 'tcp-check set-var(check.x)' is not supported; legate reads tcp-check connect, send, send-binary, expect and comment",
    ],
    [
      'tcp-check expect with a bad kind',
      backend('  tcp-check expect status 200\n  server s h:1\n'),
      "9:20: backend b: 'tcp-check expect' reads string, rstring, binary or rbinary, got 'status'",
    ],
    [
      'tcp-check send-binary with odd hex',
      backend('  tcp-check send-binary abc\n  server s h:1\n'),
      "9:25: backend b: 'tcp-check send-binary' expects an even number of hex digits, got 'abc'",
    ],
    [
      'an acl',
      backend('  acl x src 1.2.3.4\n  server s h:1\n'),
      "9:3: backend b: 'acl' is not supported: legate's broker has no ACLs; choose between backends with .if/.else on an environment variable",
    ],
    [
      'http-request',
      backend('  http-request deny\n  server s h:1\n'),
      "9:3: backend b: 'http-request' is for mode http, which legate's HAProxy dialect does not read; for HTTP use legate's nginx, envoy or native http dialects",
    ],
    [
      'stick-table',
      backend('  stick-table type ip size 1m\n  server s h:1\n'),
      "9:3: backend b: 'stick-table' is not supported: legate has no stick tables; for a sticky choice use balance source",
    ],
    [
      'timeout server-fin',
      backend('  timeout server-fin 1s\n  server s h:1\n'),
      "9:3: backend b: 'timeout server-fin' is not supported: legate has no separate timeout for a half-closed server side; use 'timeout server'",
    ],
    [
      'an unknown timeout',
      backend('  timeout foo 1s\n  server s h:1\n'),
      "9:3: backend b: unknown 'timeout foo' in backend 'b'; see the README's HAProxy dialect section for what legate reads",
    ],
    [
      'an unknown global keyword',
      `global\n  frobnicate\n${backend('  server s h:1\n')}`,
      "2:3: global: unknown keyword 'frobnicate' in the global section; legate reads setenv, presetenv, unsetenv, resetenv, maxconn and hard-stop-after, and ignores HAProxy's own tuning (log, stats, nbthread, tune.*, …) with a warning",
    ],
    [
      'setenv without a value',
      `global\n  setenv A\n${backend('  server s h:1\n')}`,
      "2:3: global: 'setenv' expects a name and a value (quote a value with spaces)",
    ],
    [
      'a program section',
      `program p\n  command /bin/true\n${backend('  server s h:1\n')}`,
      "1:1: program p: a 'program' section is not supported by legate; remove it (legate reads global, defaults, frontend, backend, listen and resolvers)",
    ],
    [
      'a statement before any section',
      `.if 1\n  maxconn 5\n.endif\n${backend('  server s h:1\n')}`,
      "2:3: : 'maxconn' is outside any section; start one with global, defaults, frontend, backend, listen or resolvers",
    ],
    [
      'an unknown resolvers keyword',
      `resolvers r\n  nameservr a 1.1.1.1:53\n${backend('  server s h:1\n')}`,
      "2:3: resolvers r: unknown keyword 'nameservr' in a resolvers section; legate reads nameserver, parse-resolv-conf, resolve_retries, timeout resolve|retry and hold",
    ],
    ['an unmatched quote', backend('  server s "h:1\n'), '9:12: backend b: unmatched quote'],
    [
      'a number HAProxy would read leniently',
      backend('  retries x\n  server s h:1\n'),
      "9:11: backend b: 'retries' expected an integer, got 'x'",
    ],
    [
      'servers that name different resolvers sections',
      `resolvers r1\n  parse-resolv-conf\nresolvers r2\n  parse-resolv-conf\n${backend('  server s h:1 resolvers r1\n  server t h:2 resolvers r2\n')}`,
      "13:3: backend b: backend 'b': legate applies one 'resolvers' section to a whole backend; give every server the same (use default-server)",
    ],
    [
      'a server id that is not above 0 (HAProxy: custom id has to be > 0)',
      backend('  server s h:1 id 0\n'),
      "9:19: backend b: 'id' must be between 1 and 2147483647, got 0",
    ],
    [
      'two servers with one id',
      backend('  server s h:1 id 2\n  server t h:2 id 2\n'),
      "10:19: backend b: backend 'b', server 't': id 2 is already used at line 9 (server 's')",
    ],
    [
      'balance source with hash-type consistent (legate hashes map-based only)',
      backend('  balance source\n  hash-type consistent\n  server s h:1\n'),
      "10:13: backend b: backend 'b': balance source hashes map-based only in legate (HAProxy's default), not consistent or with avalanche; remove this hash-type or make it map-based",
    ],
    [
      'balance source with an inherited hash-type avalanche',
      backend('  balance source\n  server s h:1\n', '  hash-type map-based sdbm avalanche\n'),
      "backend 'b': balance source hashes map-based only in legate (HAProxy's default), not consistent or with avalanche; remove this hash-type or make it map-based",
    ],
    [
      'an unknown hash-type method',
      backend('  hash-type foo\n  server s h:1\n'),
      "9:13: backend b: 'hash-type' expects map-based or consistent, got 'foo'",
    ],
    [
      'a disabled proxy',
      backend('  disabled\n  server s h:1\n'),
      "9:3: backend b: 'disabled' is not supported: remove the section instead of disabling it",
    ],
    [
      'a file with no service',
      'backend b\n  server s h:1\n',
      'no frontend or listen section: legate would have nothing to serve; add one with a bind line',
    ],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => {
      const got = refusal(text);
      assert.ok(
        got === expected || got.endsWith(`: ${expected}`),
        `got:      ${got}\nexpected: ${expected}`,
      );
    });
  }
  it('every mistake at once, in file order', () => {
    const found = issues(backend('  retires 3\n  balance hash\n  server s h\n'));
    assert.deepEqual(
      found.map((i) => i.line),
      [9, 10, 11],
    );
  });
});

describe('haproxy dialect: accepted with a warning naming the line', () => {
  const cases: [string, string, string][] = [
    [
      'global log, daemon, stats socket, tune.*',
      `global\n  log stdout format raw local0\n  daemon\n  stats socket /run/h.sock\n  tune.bufsize 32768\n${backend('  server s h:1\n')}`,
      [
        "2:3: global: 'log' only tunes HAProxy itself; legate ignores it",
        "3:3: global: 'daemon' only tunes HAProxy itself; legate ignores it",
        "4:3: global: 'stats' only tunes HAProxy itself; legate ignores it",
        "5:3: global: 'tune.bufsize' only tunes HAProxy itself; legate ignores it",
      ].join('\n'),
    ],
    [
      'nbthread, with what to use instead',
      `global\n  nbthread 4\n${backend('  server s h:1\n')}`,
      "2:3: global: 'nbthread' only tunes HAProxy itself; legate ignores it (legate runs one worker thread per core unless told otherwise; set LEGATE_WORKERS (or workers: in a legate.yml) to choose)",
    ],
    [
      'option tcplog, option dontlognull, log global',
      `defaults\n  log global\n  option tcplog\n  option dontlognull\n${TIMEOUTS.slice('defaults\n'.length)}frontend f\n  bind :1\n  default_backend b\nbackend b\n  server s h:1\n`,
      [
        "2:3: defaults: 'log' only tunes HAProxy itself; legate ignores it",
        "3:3: defaults: 'option tcplog' only tunes HAProxy itself; legate ignores it",
        "4:3: defaults: 'option dontlognull' only tunes HAProxy itself; legate ignores it",
      ].join('\n'),
    ],
    [
      'an http-only timeout in defaults',
      `defaults\n  timeout http-request 10s\n${TIMEOUTS.slice('defaults\n'.length)}listen l\n  bind :1\n  server s h:1\n`,
      "2:3: defaults: 'timeout http-request' applies to mode http only; in mode tcp HAProxy ignores it and so does legate",
    ],
    [
      'a backend keyword in a frontend',
      `${TIMEOUTS}frontend f\n  bind :1\n  balance first\n  default_backend b\nbackend b\n  server s h:1\n`,
      "7:3: frontend f: 'balance' ignored because frontend 'f' has no backend capability",
    ],
    [
      'bind in a backend',
      backend('  bind :2\n  server s h:1\n'),
      "9:3: backend b: 'bind' ignored because backend 'b' has no frontend capability",
    ],
    [
      'missing timeouts',
      'frontend f\n  bind :1\n  default_backend b\nbackend b\n  server s h:1\n',
      [
        "1:1: frontend f: missing timeouts for frontend 'f': client; unset means infinite",
        "4:1: backend b: missing timeouts for backend 'b': connect, server; unset means infinite (without timeout connect, legate gives up after 127 s, as the kernel does for HAProxy)",
      ].join('\n'),
    ],
    [
      'a disabled server is left out',
      backend('  server s h:1 disabled\n  server t h:2\n'),
      "9:10: backend b: server 's' is disabled: legate leaves it out (HAProxy keeps it in MAINT until enabled at run time)",
    ],
    [
      'id on default-server',
      backend('  default-server id 4\n  server s h:1\n'),
      "9:18: backend b: 'id' is not accepted on default-server; HAProxy ignores it too",
    ],
    [
      'a peers section',
      `peers p\n  peer a 127.0.0.1:1000\n${backend('  server s h:1\n')}`,
      "1:1: peers p: a 'peers' section only configures HAProxy itself; legate ignores it and its lines",
    ],
    [
      'tcp-check rules without option tcp-check',
      backend('  tcp-check send x\n  server s h:1\n'),
      "8:1: backend b: backend 'b' has tcp-check rules but no 'option tcp-check': the rules are not used (as in HAProxy)",
    ],
    [
      'resolvers without nameservers',
      `resolvers r\n  hold valid 5s\n${backend('  server s h:1 resolvers r\n')}`,
      "1:1: resolvers r: resolvers 'r' has no nameservers configured: HAProxy would never re-resolve; legate asks the system resolver",
    ],
    [
      'resolvers with nameservers and parse-resolv-conf',
      `resolvers r\n  nameserver a 127.0.0.1:53\n  parse-resolv-conf\n${backend('  server s h:1 resolvers r\n')}`,
      "1:1: resolvers r: resolvers 'r' has nameserver lines and parse-resolv-conf: legate asks the listed nameservers only",
    ],
    [
      'bind options that only tune HAProxy',
      `${TIMEOUTS}listen l\n  bind :1 name pg backlog 100 v4v6\n  server s h:1\n`,
      [
        "6:11: listen l: bind option 'name' only tunes HAProxy itself; legate ignores it",
        "6:19: listen l: bind option 'backlog' only tunes HAProxy itself; legate ignores it",
        "6:31: listen l: bind option 'v4v6' only tunes HAProxy itself; legate ignores it",
      ].join('\n'),
    ],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => assert.equal(warnings(text).join('\n'), expected));
  }
});

describe('haproxy dialect: the CLI', () => {
  it('legate -t prints the warnings and its own "syntax is ok"', async () => {
    const cfg = writeConfig(
      `global\n  nbthread 2\n${backend('  server s 127.0.0.1:1\n')}`,
      'haproxy.cfg',
    );
    try {
      const r = await runLegate(['-t', '-c', cfg.file]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), `legate: configuration file '${cfg.file}' syntax is ok\n`);
      assert.match(
        r.stderr,
        new RegExp(
          `^legate: warning: ${cfg.file}:2:3: global: 'nbthread' only tunes HAProxy itself`,
        ),
      );
    } finally {
      cfg.cleanup();
    }
  });
  it('LEGATE_CONFIG naming an haproxy.cfg works like -c (the seed mounts /usr/local/etc/haproxy/haproxy.cfg)', async () => {
    const cfg = writeConfig(sample, 'haproxy.cfg');
    try {
      const r = await runLegate(['-t'], {
        env: { LEGATE_CONFIG: cfg.file, APP_ENV: 'prod', RDS_HOST: 'a', FALLBACK_HOST: 'b' },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), `legate: configuration file '${cfg.file}' syntax is ok\n`);
      assert.equal(r.stderr, '');
    } finally {
      cfg.cleanup();
    }
  });
  it('a bad haproxy.cfg is refused with every mistake, file:line:column first', async () => {
    const cfg = writeConfig(backend('  mode http\n  server s h\n'), 'haproxy.cfg');
    try {
      const r = await runLegate(['-t', '-c', cfg.file]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'legate: configuration error:\n' +
          `${cfg.file}:9:8: backend b: mode http is not read by legate's HAProxy dialect, which runs the TCP broker (mode tcp); for HTTP use legate's nginx, envoy or native http dialects\n` +
          `${cfg.file}:10:12: backend b: server address 'h' has no port; HAProxy would use the client's destination port, legate needs it written (host:port)\n`,
      );
    } finally {
      cfg.cleanup();
    }
  });
});

/** `haproxy -c` on the same text: 0 when HAProxy accepts it. */
async function haproxyAccepts(text: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const cfg = writeConfig(text, 'haproxy.cfg');
  try {
    const r = await run('haproxy', ['-c', '-q', '-f', cfg.file], { env, timeoutMs: 20000 });
    return r.code === 0;
  } finally {
    cfg.cleanup();
  }
}

function legateAccepts(text: string, env: NodeJS.ProcessEnv): boolean {
  try {
    parseConfig(text, 'h.cfg', env);
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
}

describe('haproxy dialect: the real HAProxy agrees on what is valid (haproxy -c)', () => {
  const good: [string, string, NodeJS.ProcessEnv][] = [
    ['the sample, dev', sample, {}],
    [
      'the sample, prod',
      sample,
      { APP_ENV: 'prod', RDS_HOST: '127.0.0.1', FALLBACK_HOST: '127.0.0.2' },
    ],
    [
      'a listen section with every server keyword',
      `global\n  log stdout local0\n  nbthread 2\n${TIMEOUTS}resolvers r\n  nameserver a 127.0.0.1:53\nlisten l\n  bind 127.0.0.1:15000,[::1]:15001\n  balance leastconn\n  option tcp-check\n  tcp-check send "PING\\r\\n"\n  tcp-check expect string +PONG\n  default-server on-marked-down shutdown-sessions\n  server s 127.0.0.1:6379 check inter 1s fall 2 rise 1 weight 10 maxconn 5 send-proxy-v2 resolvers r init-addr libc,none\n  server t 127.0.0.1:6380 check backup\n`,
      {},
    ],
    [
      'conditions and variables',
      `global\n  setenv P 15002\n.if defined(P) && !streq("$P",0)\n${TIMEOUTS}listen l\n  bind "127.0.0.1:$P"\n  server s "\${H-127.0.0.1}:1"\n.endif\n`,
      {},
    ],
  ];
  const bad: [string, string][] = [
    ['an unmatched quote', backend('  server s "127.0.0.1:1\n')],
    ['an unknown keyword', backend('  retires 3\n  server s 127.0.0.1:1\n')],
    ['a duplicate server', backend('  server s 127.0.0.1:1\n  server s 127.0.0.1:2\n')],
    [
      'a missing backend',
      `${TIMEOUTS}frontend f\n  bind 127.0.0.1:15003\n  default_backend nope\n`,
    ],
    ['weight 257', backend('  server s 127.0.0.1:1 weight 257\n')],
    ['an unclosed .if', `.if 1\n${backend('  server s 127.0.0.1:1\n')}`],
    ['pgsql-check without user', backend('  option pgsql-check\n  server s 127.0.0.1:1\n')],
    ['an unknown resolvers', backend('  server s 127.0.0.1:1 resolvers nope\n')],
    ['.alert', `global\n  .alert "stop"\n${backend('  server s 127.0.0.1:1\n')}`],
  ];
  for (const [name, text, env] of good) {
    it(`both accept: ${name}`, async () => {
      assert.equal(legateAccepts(text, env), true, 'legate refused it');
      assert.equal(await haproxyAccepts(text, env), true, 'haproxy -c refused it');
    });
  }
  for (const [name, text] of bad) {
    it(`both refuse: ${name}`, async () => {
      assert.equal(legateAccepts(text, {}), false, 'legate accepted it');
      assert.equal(await haproxyAccepts(text, {}), false, 'haproxy -c accepted it');
    });
  }
});
