// The command line as a user meets it: bin/legate.js run as a child process, output and exit code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { freePort, LEGATE_BIN, run, runLegate, writeConfig } from '../helpers/processes.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
// The messages name the config file as given; run from the repo root so `config/…` resolves.
process.chdir(ROOT);

const VERSION: string = JSON.parse(readFileSync('package.json', 'utf8')).version;
/** The tests decide whether LEGATE_CONFIG is set, not the environment they run in. */
const NO_ENV_CONFIG = { LEGATE_CONFIG: undefined };

function legate(args: readonly string[], options: Parameters<typeof runLegate>[1] = {}) {
  return runLegate(args, {
    timeoutMs: 20000,
    ...options,
    env: { ...NO_ENV_CONFIG, ...options.env },
  });
}

// Three servers named 127.0.0.1:6380..6382: where nutcracker 0.5.0 put these keys was checked by
// writing them through it to three shards with those names (nothing needs to listen here).
const three = writeConfig(
  [
    'redis:',
    '  listen: 127.0.0.1:22121',
    '  redis: true',
    '  servers:',
    '    - 127.0.0.1:6380:1',
    '    - 127.0.0.1:6381:1',
    '    - 127.0.0.1:6382:1',
    '',
  ].join('\n'),
);
const twoPools = writeConfig(
  [
    'a:',
    '  listen: 127.0.0.1:22121',
    '  redis: true',
    '  servers:',
    '    - 127.0.0.1:6380:1',
    'b:',
    '  listen: 127.0.0.1:22122',
    '  redis: true',
    '  servers:',
    '    - 127.0.0.1:6390:1',
    '    - 127.0.0.1:6391:1',
    '',
  ].join('\n'),
);
const bad = writeConfig(
  [
    'redis:',
    '  listen: 127.0.0.1:22121',
    '  hash: fnv2',
    '  redis: true',
    '  servers:',
    '    - 127.0.0.1:6380',
    '',
  ].join('\n'),
);

after(() => {
  three.cleanup();
  twoPools.cleanup();
  bad.cleanup();
});

describe('legate -t (test the configuration)', () => {
  it('says the shipped nutcracker.yml is ok, like nutcracker -t', async () => {
    const r = await legate(['-t', '-c', 'config/nutcracker.yml']);
    assert.equal(
      r.stdout.toString(),
      "legate: configuration file 'config/nutcracker.yml' syntax is ok\n",
    );
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });

  it('accepts the shipped legate.yml too', async () => {
    const r = await legate(['--test-conf', '--conf-file=config/legate.yml']);
    assert.equal(
      r.stdout.toString(),
      "legate: configuration file 'config/legate.yml' syntax is ok\n",
    );
    assert.equal(r.code, 0);
  });

  it('prints every error of a bad file as FILE:LINE:COL and exits 1', async () => {
    const r = await legate(['-t', '-c', bad.file]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'legate: configuration error:');
    assert.equal(lines.length, 3, r.stderr);
    assert.ok(lines[1].startsWith(`${bad.file}:3:9: redis.hash: `), lines[1]);
    assert.match(lines[1], /'fnv2'/);
    assert.ok(lines[2].startsWith(`${bad.file}:6:7: redis.servers[0]: `), lines[2]);
    assert.match(lines[2], /weight/);
  });

  it('says so when the file cannot be read', async () => {
    const r = await legate(['-t', '-c', 'no/such/legate.yml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no\/such\/legate\.yml: cannot read the config file: no such file/);
  });
});

describe('legate -V, -h and bad command lines', () => {
  it('-V prints the version from package.json', async () => {
    for (const flag of ['-V', '--version']) {
      const r = await legate([flag]);
      assert.equal(r.stdout.toString(), `This is legate-${VERSION}\n`);
      assert.equal(r.code, 0);
    }
  });

  it('-h prints the usage', async () => {
    for (const flag of ['-h', '--help']) {
      const r = await legate([flag]);
      const out = r.stdout.toString();
      assert.ok(out.startsWith(`legate ${VERSION}:`), out);
      assert.match(out, /^Usage:$/m);
      assert.match(out, /legate locate -c FILE \[--pool NAME\] \[KEY\.\.\.\]/);
      assert.match(out, /-t, --test-conf/);
      assert.equal(r.code, 0);
    }
  });

  it('an unknown option exits 1 naming it', async () => {
    for (const option of ['--frobnicate', '-Z']) {
      const r = await legate([option, '-c', 'config/nutcracker.yml']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `legate: unknown option '${option}' (see 'legate --help')\n`);
      assert.equal(r.stdout.length, 0);
    }
  });

  it('an unknown command exits 1 naming it and the commands there are', async () => {
    const r = await legate(['frobnicate', '-c', 'config/nutcracker.yml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^legate: unknown command 'frobnicate' \(commands: run, demo, locate/);
  });

  it('without -c or LEGATE_CONFIG says how to give a config file', async () => {
    for (const args of [[], ['-t'], ['locate', 'foo']]) {
      const r = await legate(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^legate: no configuration file: give -c FILE or set LEGATE_CONFIG/);
    }
  });

  it('LEGATE_CONFIG_PATHS (set in the image): the first file that exists, else the list', async () => {
    const present = writeConfig(
      readFileSync(`${ROOT}config/nutcracker.yml`, 'utf8'),
      'nutcracker.yml',
    );
    try {
      const paths = `/nonexistent/haproxy.cfg:${present.file}:/nonexistent/envoy.yaml`;
      const ok = await legate(['-t'], { env: { LEGATE_CONFIG: '', LEGATE_CONFIG_PATHS: paths } });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(
        ok.stdout.toString(),
        `legate: configuration file '${present.file}' syntax is ok\n`,
      );
      const none = await legate(['-t'], {
        env: { LEGATE_CONFIG: '', LEGATE_CONFIG_PATHS: '/nonexistent/a.yml:/nonexistent/b.cfg' },
      });
      assert.equal(none.code, 1);
      assert.match(
        none.stderr,
        /^legate: no configuration file: give -c FILE or set LEGATE_CONFIG \(none of LEGATE_CONFIG_PATHS exists: \/nonexistent\/a\.yml, \/nonexistent\/b\.cfg\)/,
      );
    } finally {
      present.cleanup();
    }
  });

  it('-d is refused: legate does not daemonize', async () => {
    const r = await legate(['-d', '-c', 'config/nutcracker.yml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^legate: legate does not daemonize \(-d\); run it under a supervisor/);
  });
});

describe('LEGATE_CONFIG', () => {
  it('names the config file when -c is absent', async () => {
    const r = await legate(['-t'], { env: { LEGATE_CONFIG: 'config/nutcracker.yml' } });
    assert.equal(
      r.stdout.toString(),
      "legate: configuration file 'config/nutcracker.yml' syntax is ok\n",
    );
    assert.equal(r.code, 0);
    const l = await legate(['locate', 'foo'], { env: { LEGATE_CONFIG: three.file } });
    assert.equal(l.stdout.toString(), 'foo\tredis\t127.0.0.1:6381\n');
  });

  it('-c wins over it', async () => {
    const r = await legate(['-t', '-c', 'config/legate.yml'], {
      env: { LEGATE_CONFIG: 'no/such/file.yml' },
    });
    assert.equal(
      r.stdout.toString(),
      "legate: configuration file 'config/legate.yml' syntax is ok\n",
    );
    assert.equal(r.code, 0);
  });
});

describe('legate locate', () => {
  it('prints KEY<TAB>POOL<TAB>SERVER for keys given as arguments', async () => {
    const r = await legate(['locate', '-c', three.file, 'foo', 'bar', 'user:1', 'café', 'ключ']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout.toString(),
      [
        'foo\tredis\t127.0.0.1:6381',
        'bar\tredis\t127.0.0.1:6382',
        'user:1\tredis\t127.0.0.1:6382',
        'café\tredis\t127.0.0.1:6381',
        'ключ\tredis\t127.0.0.1:6380',
        '',
      ].join('\n'),
    );
  });

  it('reads keys from standard input one a line, as raw bytes', async () => {
    const raw = Buffer.from([0xff, 0xfe, 0x80, 0x20, 0x09, 0x00, 0x41]); // not UTF-8
    const input = Buffer.concat([
      Buffer.from('foo\nbar\ncafé\nключ\n'),
      raw,
      Buffer.from('\nuser:1'), // no newline after the last key
    ]);
    const r = await legate(['locate', '-c', three.file], { input });
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    const lines: Buffer[] = [];
    for (
      let start = 0, nl = out.indexOf(10);
      nl !== -1;
      start = nl + 1, nl = out.indexOf(10, start)
    ) {
      lines.push(out.subarray(start, nl));
    }
    assert.equal(lines.length, 6);
    assert.deepEqual(
      [0, 1, 2, 3, 5].map((i) => lines[i].toString()),
      [
        'foo\tredis\t127.0.0.1:6381',
        'bar\tredis\t127.0.0.1:6382',
        'café\tredis\t127.0.0.1:6381',
        'ключ\tredis\t127.0.0.1:6380',
        'user:1\tredis\t127.0.0.1:6382',
      ],
    );
    // The raw key comes back byte for byte (its own tab included), then the pool and a server.
    const rawLine = lines[4];
    assert.ok(rawLine.subarray(0, raw.length).equals(raw), rawLine.toString('hex'));
    assert.match(rawLine.subarray(raw.length).toString(), /^\tredis\t127\.0\.0\.1:638[012]$/);
  });

  it('needs --pool when the file has several pools', async () => {
    const r = await legate(['locate', '-c', twoPools.file, 'foo']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the configuration has 2 pools; choose one with --pool \(a, b\)/);
    const ok = await legate(['locate', '-c', twoPools.file, '--pool', 'b', 'foo']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout.toString(), /^foo\tb\t127\.0\.0\.1:639[01]\n$/);
    const a = await legate(['locate', '-c', twoPools.file, '--pool=a', 'foo', 'bar']);
    assert.equal(a.stdout.toString(), 'foo\ta\t127.0.0.1:6380\nbar\ta\t127.0.0.1:6380\n');
  });

  it('names the pools there are when --pool names none of them', async () => {
    const r = await legate(['locate', '-c', twoPools.file, '--pool', 'nope', 'foo']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^legate: no pool 'nope' \(pools: a, b\)/);
    assert.equal(r.stdout.length, 0);
  });
});

/** A Node on this machine too old for legate (the PATH's, usually), or undefined. */
function oldNode(): { path: string; version: string } | undefined {
  const which = spawnSync('which', ['-a', 'node'], { encoding: 'utf8' });
  const candidates = new Set([
    ...(which.stdout ?? '').split('\n'),
    '/usr/local/bin/node',
    '/usr/bin/node',
  ]);
  for (const path of candidates) {
    if (path === '') continue;
    const v = spawnSync(path, ['-v'], { encoding: 'utf8', timeout: 5000 });
    const m = /^v(\d+)\.(\d+)\./.exec(v.stdout ?? '');
    if (!m) continue;
    const [major, minor] = [Number(m[1]), Number(m[2])];
    if (major < 22 || (major === 22 && minor < 18))
      return { path, version: v.stdout.trim().slice(1) };
  }
  return undefined;
}

describe('bin/legate.js on an old Node', () => {
  const old = oldNode();
  it('refuses clearly, naming Node >= 22.18, and exits 1', {
    skip: old ? false : 'no Node older than 22.18 on this machine',
  }, async () => {
    if (!old) return;
    const r = await run(old.path, [LEGATE_BIN, '-V'], { timeoutMs: 20000 });
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    assert.match(
      r.stderr,
      new RegExp(`^legate: Node\\.js ${old.version.replaceAll('.', '\\.')} is too old`),
    );
    assert.match(r.stderr, /legate needs Node\.js >= 22\.18/);
  });
});

describe('legate run when it cannot listen', () => {
  it('names the pool, the address and the likely cause, and exits 1', async () => {
    const { createServer } = await import('node:net');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    const config = writeConfig(
      `busy:\n  listen: 127.0.0.1:${port}\n  redis: true\n  servers: [127.0.0.1:1:1]\n`,
    );
    try {
      const r = await runLegate(
        ['-c', config.file, '-w', '1', '--admin', '127.0.0.1:0', '-s', '0'],
        {
          timeoutMs: 20000,
        },
      );
      assert.equal(r.code, 1);
      assert.match(
        r.stdout.toString(),
        new RegExp(
          `"msg":"cannot start: pool busy cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`,
        ),
      );
    } finally {
      holder.close();
      config.cleanup();
    }
  });
});

describe("nutcracker's -D, -o, -p and -m", () => {
  it('-D lists every stats field with its meaning, as nutcracker -D does', async () => {
    const r = await runLegate(['-D']);
    assert.equal(r.code, 0);
    const out = r.stdout.toString();
    for (const field of [
      'client_eof',
      'server_ejects',
      'fragments',
      'server_ejected_at',
      'out_queue_bytes',
    ]) {
      assert.match(out, new RegExp(`^  ${field} +"[^"]+"$`, 'm'));
    }
  });

  it('-o appends the log to a file, -p writes the pid while running, -m is accepted', async () => {
    const { spawn } = await import('node:child_process');
    const { existsSync, mkdtempSync, readFileSync: read, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/legate-cli-`);
    const config = writeConfig(
      `p:\n  listen: 127.0.0.1:${await freePort()}\n  redis: true\n  servers: [127.0.0.1:1:1]\n`,
    );
    const logFile = `${dir}/legate.log`;
    const pidFile = `${dir}/legate.pid`;
    try {
      const child = spawn(
        process.execPath,
        [
          LEGATE_BIN,
          '-c',
          config.file,
          '-w',
          '1',
          '-o',
          logFile,
          '-p',
          pidFile,
          '-m',
          '16384',
          '--admin',
          '127.0.0.1:0',
          '-s',
          '0',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const deadline = Date.now() + 15000;
      while (!(existsSync(logFile) && /started on pid/.test(read(logFile, 'utf8')))) {
        assert.ok(Date.now() < deadline, 'legate logged its start to the -o file');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(read(pidFile, 'utf8').trim(), String(child.pid));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.equal(existsSync(pidFile), false, 'the pid file is removed on exit');
      const lines = read(logFile, 'utf8').trim().split('\n');
      for (const line of lines) JSON.parse(line);
      assert.match(lines.at(-1) ?? '', /"msg":"stopped"/);
    } finally {
      config.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
