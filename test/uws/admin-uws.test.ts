// The admin server on the uWebSockets.js engine, through the real CLI: a legate.yml that asks for
// `engine: uws`, two workers, a redis-server shard. Runs where uWS loads: on a glibc >= 2.38 host,
// or inside the Debian 13 root that scripts/uws-lane.sh makes when the host is older.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  LEGATE_BIN,
  NODE,
  type RedisProcess,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';
import { UWS_REQUIRED, uwsLoadError } from './uws-here.ts';

const loadError = uwsLoadError();
if (loadError !== null && UWS_REQUIRED)
  throw new Error(`uWebSockets.js must load here but does not: ${loadError}`);

const WORKERS = 2;

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** legate run as a child process, with its output and its exit. */
class Legate {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  #out = '';

  constructor(args: readonly string[]) {
    this.child = spawn(NODE, [LEGATE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (d: Buffer) => {
      this.#out += d.toString();
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get output(): string {
    return this.#out;
  }

  /** Its exit; after `timeoutMs` it is killed and this rejects with `what` and its output. */
  async exit(what: string, timeoutMs = 15000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`${what} in ${timeoutMs} ms:\n${this.#out}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async waitFor(pattern: RegExp, timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.#out)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`legate exited before ${pattern}:\n${this.#out}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} in ${timeoutMs} ms:\n${this.#out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Retries `check` until it passes: workers report metrics once a second. */
async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * One raw HTTP/1.1 exchange on a socket, so the test sees exactly what uWS wrote. `RawClient`
 * keeps every byte unread, so the response is what follows the `skip` bytes of earlier ones.
 */
async function rawHttp(client: RawClient, request: string, skip = 0): Promise<string> {
  client.write(request);
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = client.unread().toString('latin1').slice(skip);
    const head = text.indexOf('\r\n\r\n');
    if (head !== -1) {
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head));
      const bodyLength = length && !request.startsWith('HEAD ') ? Number(length[1]) : 0;
      if (text.length >= head + 4 + bodyLength) return text;
    }
    if (client.closed || Date.now() > deadline)
      throw new Error(`incomplete HTTP response to ${request.split('\r\n')[0]}: ${text}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('admin server on the uws engine, through the CLI', {
  skip:
    loadError === null
      ? false
      : `uWebSockets.js does not load here (${loadError}); scripts/uws-lane.sh runs this in Debian 13`,
}, () => {
  let shards: RedisProcess[] = [];
  let config: { file: string; cleanup(): void } | null = null;
  let legate: Legate;
  let adminPort: number;
  let poolPort: number;
  let base: string;

  /** A legate.yml: two workers, the admin server on uws, one pool over the shard. */
  const configText = (admin: number, pool: number) =>
    [
      `workers: ${WORKERS}`,
      'admin:',
      `  listen: 127.0.0.1:${admin}`,
      '  engine: uws',
      'redis:',
      '  main:',
      `    listen: 127.0.0.1:${pool}`,
      '    redis: true',
      '    servers:',
      `      - 127.0.0.1:${shards[0].port}:1`,
      '',
    ].join('\n');

  before(async () => {
    shards = await startShards(1);
    adminPort = await freePort();
    poolPort = await freePort();
    base = `http://127.0.0.1:${adminPort}`;
    config = writeConfig(configText(adminPort, poolPort));
    legate = new Legate(['-c', config.file, '-s', '0']);
    await legate.waitFor(/"msg":"legate [^"]* started on pid/);
  });

  after(async () => {
    if (legate && legate.child.exitCode === null && legate.child.signalCode === null) {
      legate.child.kill('SIGKILL');
      await legate.exited;
    }
    await stopAll(shards);
    config?.cleanup();
  });

  it('logs that the admin server runs on uws, as the config asked', () => {
    assert.match(
      legate.output,
      new RegExp(
        `"msg":"admin listening on 127\\.0\\.0\\.1:${adminPort} \\(uws engine: chosen in the config\\)"`,
      ),
    );
  });

  it('GET /healthz answers 200 ok', async () => {
    const r = await fetch(`${base}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(await r.text(), 'ok\n');
  });

  it(`GET /readyz answers 200 with all ${WORKERS} workers listening`, async () => {
    await eventually(async () => {
      const r = await fetch(`${base}/readyz`);
      assert.equal(await r.text(), 'ready\n');
      assert.equal(r.status, 200);
    });
  });

  it('counts requests through the workers in /stats and /metrics', async () => {
    // Several connections, so both workers are likely to take some.
    const clients = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(poolPort)));
    let sent = 0;
    for (const [i, c] of clients.entries()) {
      for (let k = 0; k < 5; k++) {
        assert.equal((await c.command('SET', `uws:${i}:${k}`, 'v')).toString(), '+OK\r\n');
        assert.equal((await c.command('GET', `uws:${i}:${k}`)).toString(), '$1\r\nv\r\n');
        sent += 2;
      }
      c.close();
    }
    await eventually(async () => {
      const stats = (await (await fetch(`${base}/stats`)).json()) as {
        workers: number;
        workers_ready: number;
        pools: {
          name: string;
          requests: number;
          latency_us: { count: number };
          servers: { name: string; requests: number; ejected: boolean }[];
        }[];
      };
      assert.equal(stats.workers, WORKERS);
      assert.equal(stats.workers_ready, WORKERS);
      assert.equal(stats.pools.length, 1);
      const [pool] = stats.pools;
      assert.equal(pool.name, 'main');
      assert.equal(pool.requests, sent);
      assert.equal(pool.latency_us.count, sent);
      assert.equal(pool.servers[0].name, `127.0.0.1:${shards[0].port}`);
      assert.equal(pool.servers[0].requests, sent);
      assert.equal(pool.servers[0].ejected, false);
    });
    const r = await fetch(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await r.text();
    assert.match(text, new RegExp(`^legate_workers ${WORKERS}$`, 'm'));
    assert.match(text, new RegExp(`^legate_requests_total\\{pool="main"\\} ${sent}$`, 'm'));
  });

  it('GET /config shows the engine the config chose', async () => {
    const r = await fetch(`${base}/config`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { admin: { engine: string } };
    assert.equal(body.admin.engine, 'uws');
  });

  it('answers 404, 405 and a query string with the right status lines', async () => {
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.statusText, 'Not Found');
    assert.equal(await missing.text(), 'no such endpoint: /nope\n');
    const post = await fetch(`${base}/healthz`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    await post.arrayBuffer();
    const withQuery = await fetch(`${base}/healthz?verbose=1`);
    assert.equal(withQuery.status, 200);
    assert.equal(await withQuery.text(), 'ok\n');
  });

  it('answers HEAD without a body, keeping the connection usable', async () => {
    const client = await RawClient.connect(adminPort);
    try {
      const head = await rawHttp(client, 'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      // Give a stray body time to arrive: it would be read as the start of the next response.
      await new Promise((r) => setTimeout(r, 100));
      const afterHead = client.unread().toString('latin1');
      assert.equal(
        afterHead.indexOf('\r\n\r\n'),
        afterHead.length - 4,
        `HEAD got a body: ${afterHead}`,
      );
      const get = await rawHttp(
        client,
        'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
        afterHead.length,
      );
      assert.match(get, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/);
    } finally {
      client.close();
    }
  });

  it('serves many requests at once', async () => {
    const replies = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const r = await fetch(`${base}/${i % 2 ? 'healthz' : 'stats'}`);
        await r.arrayBuffer();
        return r.status;
      }),
    );
    assert.deepEqual(new Set(replies), new Set([200]));
  });

  it('refuses the admin port while this legate holds it: a second one exits 1', async () => {
    const other = writeConfig(configText(adminPort, await freePort()));
    try {
      const second = new Legate(['-c', other.file, '-s', '0']);
      const exit = await second.exit('a second legate started on the same admin port');
      assert.deepEqual(exit, { code: 1, signal: null }, second.output);
      assert.ok(
        second.output.includes(
          `"msg":"cannot start: cannot listen on 127.0.0.1:${adminPort} (in use`,
        ),
        second.output,
      );
      const r = await fetch(`${base}/healthz`);
      assert.equal(await r.text(), 'ok\n');
    } finally {
      other.cleanup();
    }
  });

  it('exits 0 on SIGTERM with a client still connected (close() releases every uWS handle)', async () => {
    // A keep-alive connection left open: at thread exit an open uWS handle aborts Node.
    const client = await RawClient.connect(adminPort);
    await rawHttp(client, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    legate.child.kill('SIGTERM');
    const exit = await legate.exit('legate did not exit on SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, legate.output);
    assert.match(legate.output, /"msg":"stopped"/);
    assert.ok(await client.waitClosed(), 'the open admin connection was not closed');
    client.close();
  });
});
