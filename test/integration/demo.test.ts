// `npm start` is `legate demo`: the seed's four ambassadors in one legate process, each in front of
// backends the demo starts; every pod it claims answers its command, and Ctrl-C (SIGINT) stops
// legate and every child, leaving no port open and no process behind.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BREAKER_TITLE, FLAKY } from '../../engine/cli/demo/breaker.ts';
import { BROKER_TITLE, startBrokerPod } from '../../engine/cli/demo/broker.ts';
import { demoConfigText } from '../../engine/cli/demo/config.ts';
import { findPostgresBin } from '../../engine/cli/demo/postgres.ts';
import { REDIS_TITLE } from '../../engine/cli/demo/redis.ts';
import { SPLITTER_TITLE, VARIANTS } from '../../engine/cli/demo/splitter.ts';
import { acceptsConnections, freePort } from '../../engine/cli/redis-process.ts';
import { psqlArgs } from '../helpers/postgres.ts';
import {
  LEGATE_BIN,
  NODE,
  run,
  startLegate,
  track,
  waitFor,
  writeConfig,
} from '../helpers/processes.ts';

/** Every process below `pid` now (children, theirs, …), read from /proc/*\/stat. */
function descendantsOf(pid: number): Map<number, string> {
  const parent = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces; the parent pid is the 2nd field after it.
      const close = stat.lastIndexOf(')');
      parent.set(Number(entry), Number(stat.slice(close + 2).split(' ')[1]));
      names.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
    } catch {
      // The process ended while we read.
    }
  }
  const out = new Map<number, string>();
  let frontier = [pid];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const [child, ppid] of parent)
      if (frontier.includes(ppid) && !out.has(child)) {
        out.set(child, names.get(child) ?? '');
        next.push(child);
      }
    frontier = next;
  }
  return out;
}

/** Whether the process still exists (and is not a zombie). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The pods in the banner: title → port, and title → why skipped. */
function readBanner(text: string): { ports: Map<string, number>; skipped: Map<string, string> } {
  const ports = new Map<string, number>();
  const skipped = new Map<string, string>();
  for (const m of text.matchAll(/^ {2}(\S.*) on 127\.0\.0\.1:(\d+)$/gm))
    ports.set(m[1], Number(m[2]));
  for (const m of text.matchAll(/^ {2}(\S.*): skipped, (.*)$/gm)) skipped.set(m[1], m[2]);
  return { ports, skipped };
}

async function curl(...args: string[]): Promise<string> {
  const r = await run('curl', ['-s', '--max-time', '10', ...args], { timeoutMs: 15000 });
  assert.equal(r.code, 0, `curl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

/** One line through a TCP echo service. */
function echo(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`${line}\n`));
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n')) {
        s.end();
        resolve(got.trim());
      }
    });
    s.once('error', reject);
    s.setTimeout(10000, () => s.destroy(new Error('no echo in 10 s')));
  });
}

test('legate demo: each pod it starts answers its command; Ctrl-C stops legate and every child', async (t) => {
  const demo = await startLegate(['demo', '-w', '1']);
  try {
    await waitFor(demo, /Ctrl-C stops legate/, 'the demo banner', 60000);
    const { ports, skipped } = readBanner(demo.output());
    t.diagnostic(`pods: ${[...ports].join('; ')}`);
    assert.deepEqual([...skipped], [], 'no pod skipped');
    assert.equal(ports.size, 4, demo.output());
    assert.doesNotMatch(demo.output(), /NOT answering/);

    // Redis: three shards behind the seed's pool.
    const redisPort = ports.get(REDIS_TITLE);
    assert.ok(redisPort !== undefined, demo.output());
    const cli = (...args: string[]) =>
      run('redis-cli', ['-p', String(redisPort), ...args]).then((r) => r.stdout.toString().trim());
    assert.equal(await cli('set', 'foo', 'bar'), 'OK');
    assert.equal(await cli('get', 'foo'), 'bar');
    assert.match(demo.output(), new RegExp(`try: {2}redis-cli -p ${redisPort} set foo bar`));

    // The broker: psql through it where PostgreSQL is installed, else the echo service.
    const brokerPort = ports.get(BROKER_TITLE);
    assert.ok(brokerPort !== undefined, demo.output());
    if (findPostgresBin() !== null) {
      assert.match(demo.output(), /backend: PostgreSQL \d+ on 127\.0\.0\.1:\d+/);
      assert.match(
        demo.output(),
        new RegExp(`psql -h 127\\.0\\.0\\.1 -p ${brokerPort} -U postgres`),
      );
      const r = await run('psql', psqlArgs(brokerPort, 'select 1'), {
        timeoutMs: 30000,
      });
      assert.equal(r.stdout.toString().trim(), '1', r.stderr);
    } else {
      assert.match(demo.output(), /TCP echo service/);
      assert.equal(await echo(brokerPort, 'hello'), 'hello');
    }

    // The splitter: a client sticks to one variant; clients from 20 networks reach both.
    const splitterPort = ports.get(SPLITTER_TITLE);
    assert.ok(splitterPort !== undefined, demo.output());
    if (splitterPort !== 80)
      assert.match(demo.output(), new RegExp(`port 80 [^\\n]*: using ${splitterPort}`));
    {
      const url = `http://127.0.0.1:${splitterPort}/`;
      const first = (await curl(url)).trim();
      assert.ok(
        VARIANTS.some((v) => v.name === first),
        first,
      );
      for (let i = 0; i < 5; i++)
        assert.equal((await curl(url)).trim(), first, 'sticks to one variant');
      const seen = new Set<string>();
      for (let n = 1; n <= 20; n++) {
        const xff = ['-H', `X-Forwarded-For: 10.0.${n}.1`, url];
        const a = (await curl(...xff)).trim();
        assert.equal((await curl(...xff)).trim(), a, `10.0.${n}.1 sticks`);
        seen.add(a);
      }
      assert.deepEqual([...seen].sort(), VARIANTS.map((v) => v.name).sort());
    }

    // The breaker: the backend's answers, its failures, then the open circuit answering itself.
    const breakerPort = ports.get(BREAKER_TITLE);
    assert.ok(breakerPort !== undefined, demo.output());
    {
      const url = `http://127.0.0.1:${breakerPort}/`;
      const answers: string[] = [];
      for (let i = 0; i < FLAKY.ok + FLAKY.failing + 3; i++) answers.push(await curl('-i', url));
      const status = (a: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(a)?.[1]);
      for (const a of answers.slice(0, FLAKY.ok)) assert.equal(status(a), 200, a);
      assert.match(answers[FLAKY.ok], /failed on purpose/);
      const open = answers.find((a) => /x-legate-circuit: open/i.test(a));
      assert.ok(open !== undefined, answers.join('\n---\n'));
      assert.equal(status(open), 503);
      assert.doesNotMatch(open, /flaky backend/);
      // After open_for the probes reach the backend, back in its good phase: the circuit closes.
      const deadline = Date.now() + 20000;
      let answer = open;
      while (status(answer) !== 200) {
        assert.ok(Date.now() < deadline, `the circuit did not close again: ${answer}`);
        await new Promise((r) => setTimeout(r, 250));
        answer = await curl('-i', url);
      }
      assert.match(answer, /flaky backend: request \d+ ok/);
    }

    // Ctrl-C: legate and every backend stop; nothing listens, no child is left.
    const children = descendantsOf(demo.child.pid as number);
    const names = [...children.values()];
    assert.equal(names.filter((n) => n === 'redis-server').length, 3, names.join(', '));
    if (findPostgresBin() !== null) assert.ok(names.includes('postgres'), names.join(', '));
    const pgDir = /-D (\/tmp\/legate-demo-pg-[^/]+)\/data/.exec(
      [...children.keys()]
        .map((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
          } catch {
            return '';
          }
        })
        .join('\n'),
    )?.[1];
    assert.equal(await demo.stop('SIGINT'), 0);
    for (const [pid, name] of children)
      assert.equal(alive(pid), false, `${name} (pid ${pid}) left running`);
    for (const port of [...ports.values(), demo.adminPort as number])
      assert.equal(await acceptsConnections(port), false, `port ${port} still open`);
    if (pgDir !== undefined) assert.equal(existsSync(pgDir), false, `${pgDir} left behind`);
  } finally {
    await demo.stop('SIGKILL');
  }
});

test('the broker pod fronts a TCP echo service where PostgreSQL is missing, said so', async () => {
  const pod = await startBrokerPod({ port: await freePort(), note: null }, null);
  const config = writeConfig(demoConfigText([pod.config], await freePort()));
  try {
    const legate = await startLegate(['-c', config.file, '-w', '1']);
    try {
      assert.match(pod.notes.join('\n'), /PostgreSQL is not installed.*TCP echo service/);
      assert.match(pod.tryIt[0], new RegExp(`/dev/tcp/127\\.0\\.0\\.1/${pod.port}`));
      assert.equal(await echo(pod.port, 'hello through the broker'), 'hello through the broker');
    } finally {
      await legate.stop();
    }
  } finally {
    await pod.stop();
    config.cleanup();
  }
});

/** Holds 127.0.0.1:port (for the demo to find taken); null when something else already has it. */
async function hold(port: number): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

test('seed ports taken: the broker and the splitter move to free ports, say so, and answer there', async () => {
  const held = [await hold(5432), await hold(80)];
  const demo = await startLegate(['demo', '-w', '1']);
  try {
    await waitFor(demo, /Ctrl-C stops legate/, 'the demo banner', 60000);
    const { ports } = readBanner(demo.output());
    const broker = ports.get(BROKER_TITLE);
    assert.ok(broker !== undefined && broker !== 5432, demo.output());
    assert.match(demo.output(), new RegExp(`port 5432 is taken: using ${broker}\\n`));
    if (findPostgresBin() !== null) {
      const r = await run('psql', psqlArgs(broker, 'select 2'), {
        timeoutMs: 30000,
      });
      assert.equal(r.stdout.toString().trim(), '2', r.stderr);
    } else {
      assert.equal(await echo(broker, 'moved'), 'moved');
    }
    const splitter = ports.get(SPLITTER_TITLE);
    if (splitter !== undefined) {
      assert.notEqual(splitter, 80);
      assert.match(
        demo.output(),
        new RegExp(`port 80 is taken(; port 8080 is taken)?: using ${splitter}\\n`),
      );
      const page = (await curl(`http://127.0.0.1:${splitter}/`)).trim();
      assert.ok(
        VARIANTS.some((v) => v.name === page),
        page,
      );
      assert.match(demo.output(), new RegExp(`curl -s localhost:${splitter}/`));
    }
    assert.equal(await demo.stop('SIGINT'), 0);
  } finally {
    await demo.stop('SIGKILL');
    for (const h of held) h?.close();
  }
});

test('Ctrl-C while the demo starts its backends still stops every child it started', async () => {
  const child = spawn(NODE, [LEGATE_BIN, 'demo', '-w', '1', '--admin', '127.0.0.1:0', '-s', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const demo = track(child);
  try {
    const deadline = Date.now() + 30000;
    let started = new Map<number, string>();
    // The first shard is up: the demo is midway through starting its backends.
    while (![...started.values()].includes('redis-server')) {
      assert.ok(Date.now() < deadline && child.exitCode === null, demo.output());
      await new Promise((r) => setTimeout(r, 5));
      started = descendantsOf(child.pid as number);
    }
    const code = await demo.stop('SIGINT');
    const seen = [...started];
    for (const [pid, name] of seen)
      assert.equal(alive(pid), false, `${name} (pid ${pid}) left running`);
    assert.doesNotMatch(demo.output(), /Ctrl-C stops legate/, 'interrupted before it served');
    assert.equal(code, 130, demo.output());
  } finally {
    await demo.stop('SIGKILL');
  }
});

/** The uid of a process, from /proc. */
function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

test('as a user who cannot bind port 80: the splitter on 8080, said so; PostgreSQL runs as that user', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip(
      'needs root to start the demo as another user (as non-root, the first test takes this path)',
    );
    return;
  }
  if (Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) <= 80) {
    t.skip('every user may bind port 80 here (net.ipv4.ip_unprivileged_port_start)');
    return;
  }
  const uid = Number(execFileSync('id', ['-u', 'nobody']).toString());
  const gid = Number(execFileSync('id', ['-g', 'nobody']).toString());
  // A checkout under a private directory (mktemp -d is 0700) is out of nobody's reach.
  const reach = spawnSync(NODE, [LEGATE_BIN, '--version'], { uid, gid, stdio: 'ignore' });
  if (reach.error !== undefined || reach.status !== 0) {
    t.skip(
      `nobody cannot run ${LEGATE_BIN} here (${reach.error?.message ?? `exit ${reach.status}`})`,
    );
    return;
  }
  const child = spawn(NODE, [LEGATE_BIN, 'demo', '-w', '1', '--admin', '127.0.0.1:0', '-s', '0'], {
    uid,
    gid,
    cwd: '/tmp',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const demo = track(child);
  try {
    await waitFor(demo, /Ctrl-C stops legate/, 'the demo banner', 60000);
    const { ports } = readBanner(demo.output());
    const splitter = ports.get(SPLITTER_TITLE);
    if (splitter !== undefined) {
      assert.match(
        demo.output(),
        new RegExp(`port 80 needs root[^\\n]*?(; port 8080 is taken)?: using ${splitter}\\n`),
      );
      const page = (await curl(`http://127.0.0.1:${splitter}/`)).trim();
      assert.ok(
        VARIANTS.some((v) => v.name === page),
        page,
      );
    }
    const children = descendantsOf(child.pid as number);
    for (const [pid, name] of children) assert.equal(uidOf(pid), uid, `${name} runs as nobody`);
    const broker = ports.get(BROKER_TITLE);
    assert.ok(broker !== undefined, demo.output());
    if (findPostgresBin() !== null) {
      assert.ok([...children.values()].includes('postgres'));
      const r = await run('psql', psqlArgs(broker, 'select 3'), {
        timeoutMs: 30000,
      });
      assert.equal(r.stdout.toString().trim(), '3', r.stderr);
    }
    assert.equal(await demo.stop('SIGINT'), 0);
    for (const [pid, name] of children)
      assert.equal(alive(pid), false, `${name} (pid ${pid}) left running`);
  } finally {
    await demo.stop('SIGKILL');
  }
});

test('a pod whose backends cannot start (no redis-server) is skipped, said so, and the others serve', async () => {
  // A PATH with only what the demo runs besides redis-server (id and chown, for PostgreSQL as root).
  const bin = mkdtempSync(join(tmpdir(), 'legate-path-'));
  for (const program of ['id', 'chown'])
    symlinkSync(execFileSync('which', [program]).toString().trim(), join(bin, program));
  try {
    const demo = await startLegate(['demo', '-w', '1'], { PATH: bin });
    try {
      await waitFor(demo, /Ctrl-C stops legate/, 'the demo banner', 60000);
      const { ports, skipped } = readBanner(demo.output());
      assert.match(
        skipped.get(REDIS_TITLE) ?? '',
        /^did not start: 'redis-server' is not installed; install it with: sudo apt-get install redis-server$/,
      );
      assert.equal(ports.has(REDIS_TITLE), false);
      assert.doesNotMatch(demo.output(), /redis-cli -p/, 'no command offered for a skipped pod');
      const breaker = ports.get(BREAKER_TITLE);
      assert.ok(breaker !== undefined, demo.output());
      assert.match(await curl(`http://127.0.0.1:${breaker}/`), /flaky backend: request 1 ok/);
      assert.equal(await demo.stop('SIGINT'), 0);
    } finally {
      await demo.stop('SIGKILL');
    }
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
