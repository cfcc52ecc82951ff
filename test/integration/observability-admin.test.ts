// The admin endpoints a person or an orchestrator reads (/healthz, /readyz, /config, unknown
// paths), readiness through a whole pool's ejection and one server's return, and the log: one
// pino JSON line per lifecycle event, with the fields a person greps for, at the level asked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getStats, httpGet, parsePrometheus, poolOf, sampleValue } from '../helpers/admin.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startRedisServer,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

const SECRET = 'hunter2-s3cret';
const RETRY_MS = 300;

interface LogLine {
  readonly level: number;
  readonly time: string;
  readonly pid: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** Every line legate wrote, each of which must be one JSON object. */
function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(l) as LogLine;
      } catch {
        throw new Error(`a log line that is not JSON: ${l}`);
      }
      assert.equal(typeof parsed.level, 'number', l);
      assert.equal(typeof parsed.msg, 'string', l);
      assert.ok(!Number.isNaN(Date.parse(parsed.time)), `ISO time: ${l}`);
      assert.equal(typeof parsed.pid, 'number', l);
      return parsed;
    });
}

/** The one line whose message matches, with its fields; fails listing what was logged. */
function line(output: string, msg: RegExp): LogLine {
  const found = logLines(output).filter((l) => msg.test(l.msg));
  assert.ok(found.length >= 1, `a log line matching ${msg}; got:\n${output}`);
  return found[0];
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('admin endpoints, readiness through ejection, lifecycle logs', () => {
  let shards: RedisProcess[] = [];
  let spare: RedisProcess;
  let legate: RunningProcess;
  let config: { file: string; cleanup(): void };
  let admin: number;
  let cachePort: number;

  before(async () => {
    const auth = ['--requirepass', SECRET];
    shards = await Promise.all([0, 1].map(() => startRedisServer({ args: auth })));
    spare = await startRedisServer();
    cachePort = await freePort();
    const eject = {
      auto_eject_hosts: 'true',
      server_failure_limit: 1,
      server_retry_timeout: RETRY_MS,
      timeout: 400,
      redis_auth: SECRET,
    };
    config = writeConfig(
      poolYaml({
        name: 'cache',
        port: cachePort,
        shards: shards.map((s) => s.port),
        extra: eject,
      }) + poolYaml({ name: 'spare', port: await freePort(), shards: [spare.port] }),
    );
    legate = await startLegate(['-c', config.file, '-w', '2', '-i', '200'], {
      LEGATE_TEST_HOOKS: '1',
    });
    admin = legate.adminPort ?? 0;
  });

  after(async () => {
    await legate?.stop();
    await stopAll([...shards, spare]);
    config?.cleanup();
  });

  test('/healthz and /readyz answer 200; /config hides the password; unknown paths 404', async () => {
    const health = await httpGet(admin, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body, 'ok\n');
    const ready = await httpGet(admin, '/readyz');
    assert.equal(ready.status, 200, ready.body);

    const conf = await httpGet(admin, '/config');
    assert.equal(conf.status, 200);
    assert.match(conf.contentType, /^application\/json/);
    assert.ok(!conf.body.includes(SECRET), 'the password appears nowhere');
    const parsed = JSON.parse(conf.body) as {
      redis: { name: string; redisAuth: string | null; servers: unknown[] }[];
    };
    const cache = parsed.redis.find((p) => p.name === 'cache');
    assert.equal(cache?.redisAuth, '<redacted>');
    assert.equal(cache?.servers.length, 2);
    assert.equal(parsed.redis.find((p) => p.name === 'spare')?.redisAuth, null);

    const missing = await httpGet(admin, '/no/such/thing');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /no such endpoint: \/no\/such\/thing/);
    assert.equal((await httpGet(admin, '/stats', 'POST')).status, 405);
  });

  test('/readyz turns 503 when every server of a pool is ejected, 200 when one returns', async () => {
    // Traffic proves the pool works, and after the kill it is what finds the shards dead.
    const client = await RawClient.connect(cachePort);
    // With redis_auth set, legate asks its own clients for the password, as twemproxy does.
    assert.equal(await client.call('AUTH', SECRET), 'OK');
    assert.equal(await client.call('SET', 'k', 'v'), 'OK');
    const dead = shards.map((s) => s.port);
    await stopAll(shards);
    let i = 0;
    await until('/readyz 503', async () => {
      await client.command('GET', `key:${i++}`).catch(() => null);
      return (await httpGet(admin, '/readyz')).status === 503;
    });
    const notReady = await httpGet(admin, '/readyz');
    assert.match(notReady.body, /^not ready: pool cache has no live server \(all 2 ejected\)\n$/);
    assert.doesNotMatch(notReady.body, /spare/, 'the healthy pool is not named');
    assert.equal((await httpGet(admin, '/healthz')).status, 200, 'alive all the same');
    const stats = await getStats(admin);
    for (const s of poolOf(stats, 'cache').servers) {
      assert.equal(s.ejected, true, `${s.name} ejected`);
      assert.ok(s.ejects >= 1);
      assert.ok(Math.abs(s.ejected_at - Date.now() / 1000) < 30, 'ejected_at is recent');
    }
    const metrics = parsePrometheus((await httpGet(admin, '/metrics')).body);
    for (const port of dead)
      assert.equal(
        sampleValue(metrics, 'legate_server_ejected', { server: `127.0.0.1:${port}` }),
        1,
      );
    // Requests to a pool with no live server get an error reply, counted as forward errors.
    const reply = await client.call('GET', 'k');
    assert.ok(reply instanceof Error, `an error reply: ${reply}`);

    shards = [await startRedisServer({ port: dead[1], args: ['--requirepass', SECRET] })];
    await until('/readyz 200 again', async () => (await httpGet(admin, '/readyz')).status === 200);
    assert.equal((await httpGet(admin, '/readyz')).body, 'ready\n');
    const back = poolOf(await getStats(admin), 'cache');
    assert.equal(back.servers.find((s) => s.name === `127.0.0.1:${dead[1]}`)?.ejected, false);
    assert.equal(back.servers.find((s) => s.name === `127.0.0.1:${dead[0]}`)?.ejected, true);
    await until('a request through the returned shard', async () => {
      const r = await client.call('SET', 'k', 'v2').catch(() => null);
      return r === 'OK';
    });
    assert.ok(poolOf(await getStats(admin), 'cache').forward_error >= 1);
    client.close();

    const out = legate.output();
    const ejected = line(out, new RegExp(`^server 127\\.0\\.0\\.1:${dead[1]} ejected from pool`));
    assert.equal(ejected.level, 40, 'an ejection is a warning');
    assert.equal(ejected.pool, 'cache');
    assert.equal(ejected.server, `127.0.0.1:${dead[1]}`);
    assert.equal(typeof ejected.reason, 'string');
    assert.equal(ejected.retry_ms, RETRY_MS);
    const readmitted = line(out, /re-admitted to pool cache after a passing health check$/);
    assert.equal(readmitted.level, 30);
    assert.equal(readmitted.pool, 'cache');
    assert.equal(readmitted.server, `127.0.0.1:${dead[1]}`);
  });

  test('reload and worker restart each log one line with greppable fields', async () => {
    legate.child.kill('SIGHUP');
    await until('the reload line', async () => /config reloaded from/.test(legate.output()));
    const reloaded = line(legate.output(), /^config reloaded from /);
    assert.equal(reloaded.file, config.file);
    assert.equal(reloaded.reload, 1);
    assert.deepEqual(reloaded.pools, ['cache', 'spare']);
    const hup = line(legate.output(), /^received SIGHUP/);
    assert.equal(hup.signal, 'SIGHUP');

    legate.child.kill('SIGUSR2');
    await until('the restart line', async () => /worker 0 restarted/.test(legate.output()));
    const died = line(legate.output(), /^worker 0 died: /);
    assert.equal(died.level, 50);
    assert.equal(died.worker, 0);
    assert.equal(typeof died.err, 'string');
    assert.equal(typeof died.restart_in_ms, 'number');
    const restarted = line(legate.output(), /^worker 0 restarted$/);
    assert.equal(restarted.worker, 0);
    await until('both workers ready', async () => (await httpGet(admin, '/readyz')).status === 200);
  });

  test('startup lines: started, each pool listening, the admin engine and why, the stats port', () => {
    const out = legate.output();
    const started = line(out, /^legate \S+ started on pid \d+, 2 workers$/);
    assert.equal(started.workers, 2);
    assert.equal(typeof started.version, 'string');
    const cache = line(out, /^pool cache listening on /);
    assert.equal(cache.pool, 'cache');
    assert.equal(cache.address, `127.0.0.1:${cachePort}`);
    assert.equal(line(out, /^pool spare listening on /).pool, 'spare');
    const adminLine = line(out, /^admin listening on /);
    assert.equal(adminLine.address, `127.0.0.1:${admin}`);
    assert.ok(adminLine.engine === 'uws' || adminLine.engine === 'node');
    assert.ok(String(adminLine.why).length > 0, 'says why');
    assert.equal(line(out, /^stats listening on /).address, `127.0.0.1:${legate.statsPort}`);
    assert.ok(
      logLines(out).every((l) => l.level >= 30),
      'no debug lines at the default level (info)',
    );
  });

  test('SIGTERM: draining, then stopped', async () => {
    assert.equal(await legate.stop(), 0);
    const out = legate.output();
    assert.equal(line(out, /^received SIGTERM, draining$/).signal, 'SIGTERM');
    line(out, /^stopped$/);
  });
});

describe('log level', () => {
  let shard: RedisProcess;
  let config: { file: string; cleanup(): void };

  before(async () => {
    shard = await startRedisServer();
    config = writeConfig(poolYaml({ port: await freePort(), shards: [shard.port] }));
  });

  after(async () => {
    await shard?.stop();
    config?.cleanup();
  });

  async function debugLines(args: string[], env: NodeJS.ProcessEnv = {}): Promise<LogLine[]> {
    const legate = await startLegate(['-c', config.file, '-w', '1', ...args], env);
    await legate.stop();
    return logLines(legate.output()).filter((l) => l.level === 20);
  }

  test('LEGATE_LOG_LEVEL=debug and -v log debug lines; the default does not', async () => {
    assert.equal((await debugLines([])).length, 0, 'info by default');
    for (const [args, env] of [
      [[], { LEGATE_LOG_LEVEL: 'debug' }],
      [['-v'], {}],
      [['-v', '7'], {}],
    ] as const) {
      const debug = await debugLines([...args], env);
      assert.ok(debug.length > 0, `debug lines with ${JSON.stringify({ args, env })}`);
      // Worker threads follow the level too.
      assert.ok(
        debug.some((l) => l.worker === 0 && l.msg === 'listening'),
        'a worker logs at debug',
      );
    }
    assert.equal((await debugLines(['-v', '5'])).length, 0, '-v 5 is info');
  });
});
