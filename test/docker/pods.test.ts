// The seed's pods brought up for real with docker compose (docker-compose.yml), every image built
// on this machine (scripts/docker-images.sh; no registry is reachable), then the seed's terminal
// session run from each app's seat. Skips, saying why, where no Docker daemon answers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { run } from '../helpers/processes.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PROJECT = `legate-pods-${process.pid}`;
const daemon = spawnSync('docker', ['info'], { stdio: 'ignore' });
const compose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' });
const skip =
  daemon.status !== 0
    ? 'no Docker daemon answers here (CI starts one with scripts/start-docker.sh)'
    : compose.status !== 0
      ? 'no docker-compose here (apt-get install docker-compose)'
      : false;

let env: NodeJS.ProcessEnv = {};

async function dc(args: readonly string[], timeoutMs = 120000) {
  const files = ['-f', 'docker-compose.yml', '-f', 'test/docker/offline.yml'];
  const r = await run('docker-compose', ['-p', PROJECT, ...files, ...args], { env, timeoutMs });
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

/** A command in the app's seat, as `kubectl exec app-with-redis -c app -- …` runs it. */
async function inApp(service: string, command: readonly string[]): Promise<string> {
  const r = await dc(['exec', '-T', service, ...command], 30000);
  assert.equal(r.code, 0, `${command.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | null>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function container(service: string): Promise<string> {
  return dc(['ps', '-q', service]).then((r) => r.stdout.trim());
}

async function inspect(id: string, format: string): Promise<string> {
  const r = await run('docker', ['inspect', '-f', format, id]);
  return r.stdout.toString().trim();
}

describe('the seed pods under docker compose', { skip, timeout: 600000 }, () => {
  before(async () => {
    const built = await run('bash', [`${ROOT}scripts/docker-images.sh`], { timeoutMs: 540000 });
    assert.equal(built.code, 0, built.stderr);
    env = { LEGATE_BASE_IMAGE: built.stdout.toString().trim().split('\n').pop() ?? '' };
    const up = await dc(['up', '-d', '--no-build']);
    assert.equal(up.code, 0, up.stderr);
  });
  after(async () => {
    await dc(['down', '-v', '-t', '2']);
  });

  it("Redis pod: the seed's terminal session from the app container", async () => {
    await until('legate answers PING on localhost:6379', 60000, async () => {
      const r = await dc(['exec', '-T', 'redis-app', 'redis-cli', '-h', 'localhost', 'ping']);
      return r.stdout.trim() === 'PONG' ? true : null;
    });
    assert.equal(
      await inApp('redis-app', ['redis-cli', '-h', 'localhost', 'set', 'foo', 'bar']),
      'OK',
    );
    assert.equal(await inApp('redis-app', ['redis-cli', '-h', 'localhost', 'get', 'foo']), 'bar');
    // The key is on the shard nutcracker would pick (ketama over the three names): exactly one has it.
    const holders: string[] = [];
    for (const shard of ['redis-shard-0', 'redis-shard-1', 'redis-shard-2']) {
      if ((await inApp(shard, ['redis-cli', 'get', 'foo'])) === 'bar') holders.push(shard);
    }
    assert.equal(holders.length, 1, `foo is on exactly one shard, found on ${holders.join(', ')}`);
  });

  it('Redis pod: redis-benchmark from the app seat passes through legate', async () => {
    const r = await dc(
      ['run', '--rm', 'bench', 'redis-benchmark', '-h', '127.0.0.1', '-p', '6379', '-q'].concat([
        '-n',
        '2000',
        '-c',
        '10',
        '-t',
        'set,get',
      ]),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SET: [\d.]+ requests per second/);
    assert.match(r.stdout, /GET: [\d.]+ requests per second/);
  });

  it('Redis pod: the ambassador logs that it started and listens (JSON for kubectl logs)', async () => {
    const id = await container('redis-ambassador');
    const out = await run('docker', ['logs', id]);
    const logs = out.stdout.toString();
    // The image runs the JavaScript built into dist/: bin/legate.js says on stderr when it falls
    // back to the TypeScript sources (dist/ missing or older than a source).
    assert.doesNotMatch(out.stderr, /running the TypeScript sources/);
    assert.equal(
      (await run('docker', ['exec', id, 'test', '-f', 'dist/engine/cli/main.js'])).code,
      0,
    );
    const messages = logs
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).msg as string);
    assert.ok(
      messages.some((m) => /^legate \S+ started on pid 1, \d+ workers$/.test(m)),
      logs,
    );
    assert.ok(messages.includes('pool redis listening on 127.0.0.1:6379'), logs);
  });

  it("Service broker pod: psql from the app container reaches the dev database through the pod's haproxy.cfg", async () => {
    const url = 'postgresql://app:app@localhost:5432/app';
    const answer = await until('psql through legate on localhost:5432', 90000, async () => {
      const r = await dc(['exec', '-T', 'broker-app', 'psql', url, '-tAc', 'SELECT current_user']);
      return r.code === 0 ? r.stdout.trim() : null;
    });
    assert.equal(answer, 'app');
    // A session, a table and its rows, then a fresh session sees them: the broker moved the bytes.
    await inApp('broker-app', [
      'psql',
      url,
      '-c',
      'CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)',
    ]);
    assert.equal(await inApp('broker-app', ['psql', url, '-tAc', 'SELECT sum(n) FROM t']), '3');
    const id = await container('broker-ambassador');
    const logs = (await run('docker', ['logs', id])).stdout.toString();
    assert.match(logs, /"msg":"[^"]*pg_local[^"]*listening on 127\.0\.0\.1:5432/);
  });

  it("Circuit-breaker pod: the app's calls pass, then after repeated 5xx the circuit opens and answers at once", async () => {
    const curl = (path: string) =>
      inApp('breaker-app', [
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{time_total}',
        `http://localhost:8001${path}`,
      ]);
    const first = await until('legate answers on localhost:8001', 60000, async () => {
      const r = await dc(['exec', '-T', 'breaker-app', 'curl', '-s', 'http://localhost:8001/ok']);
      return r.code === 0 && r.stdout.length > 0 ? r.stdout : null;
    });
    assert.equal(first, 'backend ok\n');
    // consecutive_5xx: 5 (retries included) ejects the only host; panic threshold 0: no fallback.
    for (let i = 0; i < 5; i++) assert.match(await curl('/fail'), /^503 /);
    const body = await inApp('breaker-app', ['curl', '-s', 'http://localhost:8001/ok']);
    assert.equal(body, 'no healthy upstream');
  });

  it('legate runs as a non-root user on a read-only root filesystem, and reports healthy', async () => {
    const id = await container('redis-ambassador');
    assert.equal(await inspect(id, '{{.Config.User}}'), 'legate');
    assert.equal(await inspect(id, '{{.HostConfig.ReadonlyRootfs}}'), 'true');
    await until('HEALTHCHECK on /healthz says healthy', 60000, async () =>
      (await inspect(id, '{{.State.Health.Status}}')) === 'healthy' ? true : null,
    );
  });

  it('experiment pod: curl from the app seat reaches a variant through the splitter, and stays on it', async () => {
    const page = await until(
      'legate answers on localhost:80 in the experiment pod',
      60000,
      async () => {
        const r = await dc(['exec', '-T', 'experiment-app', 'curl', '-s', 'http://localhost/']);
        return r.code === 0 && /^web-/.test(r.stdout.trim()) ? r.stdout.trim() : null;
      },
    );
    // The app's address in the pod is 127.0.0.1: ip_hash (127.0.0 → 4040 % 10 < 9) picks prod,
    // as nginx would.
    assert.equal(page, 'web-prod');
    const again: string[] = [];
    for (let i = 0; i < 10; i++)
      again.push(await inApp('experiment-app', ['curl', '-s', 'http://localhost/']));
    assert.deepEqual(new Set(again), new Set([page]));
    const id = await container('traffic-splitter');
    const logs = (await run('docker', ['logs', id])).stdout.toString();
    assert.match(logs, /"msg":"http server server1 listening on 0\.0\.0\.0:80"/);
    assert.equal(await inspect(id, '{{.Config.User}}'), 'legate');
  });

  it('SIGTERM (docker stop) drains and exits 0', async () => {
    const id = await container('redis-ambassador');
    const stopped = await dc(['stop', '-t', '20', 'redis-ambassador']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(await inspect(id, '{{.State.ExitCode}}'), '0');
    const logs = (await run('docker', ['logs', id])).stdout.toString();
    assert.match(logs, /"msg":"received SIGTERM, draining"/);
    assert.match(logs, /"msg":"stopped"/);
  });
});
