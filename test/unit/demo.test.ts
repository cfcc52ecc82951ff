// The parts `legate demo` is made of, without starting it: the one config its pods make (read by
// parseConfig as legate reads a file), the seed ports and where it goes when one cannot be bound,
// finding PostgreSQL, and signals held while backends start.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  breakerPart,
  DEMO_BREAKER,
  FLAKY,
  startFlakyBackend,
} from '../../engine/cli/demo/breaker.ts';
import { brokerPart } from '../../engine/cli/demo/broker.ts';
import { demoConfigText } from '../../engine/cli/demo/config.ts';
import { choosePort } from '../../engine/cli/demo/ports.ts';
import { findPostgresBin } from '../../engine/cli/demo/postgres.ts';
import { redisPart } from '../../engine/cli/demo/redis.ts';
import { HeldSignals } from '../../engine/cli/demo/signals.ts';
import { splitterPart } from '../../engine/cli/demo/splitter.ts';
import { freePort } from '../../engine/cli/redis-process.ts';
import { parseConfig } from '../../engine/config/load.ts';
import { SEED_NGINX_CONF } from '../helpers/nginx.ts';

const tcp = (host: string, port: number) => ({ kind: 'tcp', host, port });

describe('legate demo config', () => {
  const parts = [
    redisPart(6379, [7001, 7002, 7003]),
    brokerPart(5432, 'postgres', 7100),
    splitterPart(80, [7201, 7202]),
  ];

  it('the Redis, broker and splitter pods make one legate.yml legate reads', () => {
    const config = parseConfig(demoConfigText(parts, 9909), '(legate demo)', {});
    assert.equal(config.dialect, 'legate');
    assert.deepEqual(config.admin.listen, tcp('127.0.0.1', 9909));
    assert.equal(config.drainTimeoutMs, 2000);

    const [pool] = config.redis;
    assert.deepEqual(pool.listen, tcp('127.0.0.1', 6379));
    assert.equal(pool.hash, 'fnv1a_64');
    assert.equal(pool.distribution, 'ketama');
    assert.deepEqual(
      pool.servers.map((s) => s.name),
      ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'],
    );

    const [service] = config.tcp.services;
    assert.equal(service.name, 'postgres');
    assert.deepEqual(service.listen, [tcp('127.0.0.1', 5432)]);
    const [backend] = config.tcp.backends;
    assert.equal(backend.check?.kind, 'postgres');
    assert.deepEqual(
      backend.servers.map((s) => `${s.host}:${s.port}`),
      ['127.0.0.1:7100'],
    );

    const [server] = config.http.servers;
    assert.deepEqual(server.listen, [tcp('127.0.0.1', 80)]);
    assert.deepEqual(server.realIp?.trusted, ['127.0.0.1']);
    assert.equal(server.locations[0].proxy.upstream, 'backend');
  });

  it('the splitter balances as the seed nginx.conf: ip_hash, weights 9 and 1', () => {
    const demo = parseConfig(demoConfigText(parts, 9909), '(legate demo)', {}).http.upstreams[0];
    const seed = parseConfig(SEED_NGINX_CONF, 'nginx.conf', {}).http.upstreams[0];
    assert.equal(demo.balancer, seed.balancer);
    assert.equal(demo.balancer, 'ip_hash');
    assert.deepEqual(
      demo.servers.map((s) => s.weight),
      seed.servers.map((s) => s.weight),
    );
  });

  it('the echo service is a plain TCP service with a tcp check', () => {
    const config = parseConfig(
      demoConfigText([brokerPart(5432, 'echo', 7100)], 9909),
      '(legate demo)',
      {},
    );
    assert.equal(config.tcp.services[0].name, 'echo');
    assert.equal(config.tcp.backends[0].check?.kind, 'tcp');
  });

  it('the breaker pod: an upstream with the classic breaker over the flaky backend, on 8001', () => {
    const text = demoConfigText([...parts, breakerPart(8001, 7300)], 9909);
    const config = parseConfig(text, '(legate demo)', {});
    const flaky = config.http.upstreams.find((u) => u.name === 'flaky');
    assert.ok(flaky !== undefined);
    assert.deepEqual(
      config.http.servers.map((s) => s.listen),
      [[tcp('127.0.0.1', 80)], [tcp('127.0.0.1', 8001)]],
    );
    assert.deepEqual(
      flaky.servers.map((s) => `${s.host}:${s.port}`),
      ['127.0.0.1:7300'],
    );
    assert.deepEqual(flaky.guard?.breaker, {
      scope: 'upstream',
      failureRateThreshold: DEMO_BREAKER.failure_rate,
      window: { kind: 'count', size: DEMO_BREAKER.window },
      minimumCalls: DEMO_BREAKER.minimum_calls,
      slowCallMs: flaky.guard?.breaker?.slowCallMs,
      slowCallRateThreshold: flaky.guard?.breaker?.slowCallRateThreshold,
      openMs: 5000,
      halfOpenCalls: DEMO_BREAKER.half_open_calls,
    });
    // Only the breaker: no Envoy limits or ejection on the demo's upstream.
    assert.equal(flaky.guard?.limits, null);
    assert.equal(flaky.guard?.outlier, null);
  });
});

describe('demo ports', () => {
  it('takes the seed port when it binds, else the next, else a free one, saying why', async () => {
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const taken = (held.address() as { port: number }).port;
    try {
      const free = await freePort();
      assert.deepEqual(await choosePort([free]), { port: free, note: null });
      assert.deepEqual(await choosePort([taken, free]), {
        port: free,
        note: `port ${taken} is taken: using ${free}`,
      });
      const other = await choosePort([taken]);
      assert.notEqual(other.port, taken);
      assert.equal(other.note, `port ${taken} is taken: using ${other.port}`);
    } finally {
      held.close();
    }
  });
});

describe('freePort', () => {
  it('never hands out a port twice in one process, though the kernel offers closed ones again', async () => {
    // 400 picks from ~28k ephemeral ports repeat one with odds near 95% if nothing prevents it:
    // two legate or HAProxy listeners on one port (SO_REUSEPORT) then split each other's sessions.
    const ports = new Set<number>();
    for (let i = 0; i < 400; i++) ports.add(await freePort());
    assert.equal(ports.size, 400);
  });
});

describe('finding PostgreSQL', () => {
  it('the newest /usr/lib/postgresql/N/bin with initdb and postgres; null when none', () => {
    const root = mkdtempSync(join(tmpdir(), 'legate-pgbin-'));
    try {
      const put = (version: string, programs: string[]) => {
        mkdirSync(join(root, version, 'bin'), { recursive: true });
        for (const p of programs) writeFileSync(join(root, version, 'bin', p), '');
      };
      assert.equal(findPostgresBin(root), null);
      put('13', ['initdb', 'postgres']);
      put('9.6', ['initdb', 'postgres']);
      put('17', ['psql']); // client only
      assert.equal(findPostgresBin(root), join(root, '13', 'bin'));
      put('16', ['initdb', 'postgres']);
      assert.equal(findPostgresBin(root), join(root, '16', 'bin'));
      assert.equal(findPostgresBin(join(root, 'absent')), null);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('signals held while the demo starts', () => {
  it('a Ctrl-C is kept, then handed to the handler installed after', () => {
    const held = new HeldSignals();
    process.emit('SIGINT', 'SIGINT'); // would end the test run without the hold
    assert.equal(held.received, 'SIGINT');
    const got: string[] = [];
    const later = (s: NodeJS.Signals) => got.push(s);
    process.once('SIGINT', later);
    held.release();
    assert.deepEqual(got, ['SIGINT']);
    assert.equal(process.listenerCount('SIGINT'), 0);
  });

  it('end() drops the held signal', () => {
    const held = new HeldSignals();
    process.emit('SIGTERM', 'SIGTERM');
    const got: string[] = [];
    const later = (s: NodeJS.Signals) => got.push(s);
    process.on('SIGTERM', later);
    held.end();
    process.off('SIGTERM', later);
    assert.equal(held.received, 'SIGTERM');
    assert.deepEqual(got, []);
    assert.equal(process.listenerCount('SIGTERM'), 0);
  });
});

describe("the breaker pod's flaky backend", () => {
  it('answers FLAKY.ok requests, fails the next FLAKY.failing with 503, and again', async () => {
    const backend = await startFlakyBackend();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 2 * (FLAKY.ok + FLAKY.failing); i++) {
        const r = await fetch(`http://127.0.0.1:${backend.port}/`);
        await r.text();
        statuses.push(r.status);
      }
      const cycle = [...Array(FLAKY.ok).fill(200), ...Array(FLAKY.failing).fill(503)];
      assert.deepEqual(statuses, [...cycle, ...cycle]);
    } finally {
      await backend.stop();
    }
  });
});
