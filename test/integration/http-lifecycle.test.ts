// The HTTP engine's unit as a host runs it (node engine, in-process): counts under wrk's load,
// reconfigure to other servers, and drain finishing what is in flight.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import { HttpRole } from '../../engine/roles/http.ts';
import { Backend, httpConfig, serverSpec, startProxy } from '../helpers/http.ts';

const run = promisify(execFile);

describe('http proxy unit: load, reconfigure, drain', () => {
  it('under wrk every response is a 2xx and every request is counted once', async () => {
    const a = await Backend.start();
    const b = await Backend.start();
    const { proxy, port } = await startProxy({
      servers: [serverSpec('a:80', a.port), serverSpec('b:80', b.port)],
    });
    try {
      const { stdout } = await run('wrk', ['-t1', '-c8', '-d2s', `http://127.0.0.1:${port}/w`]);
      const done = Number(/(\d+) requests in/.exec(stdout)?.[1]);
      assert.ok(done > 0, stdout);
      assert.doesNotMatch(stdout, /Non-2xx/);
      await new Promise((r) => setTimeout(r, 200));
      const up = proxy.snapshot().upstreams[0];
      // wrk stops with up to one request per connection unanswered or unread.
      assert.ok(
        up.counters.requests >= done && up.counters.requests <= done + 8,
        `${up.counters.requests} vs ${done}`,
      );
      assert.equal(up.counters.requests, a.seen.length + b.seen.length);
      assert.equal(
        up.servers[0].counters.requests + up.servers[1].counters.requests,
        up.counters.requests,
      );
      assert.equal(up.counters.status_5xx, 0);
    } finally {
      await proxy.close();
      await a.stop();
      await b.stop();
    }
  });

  it('reconfigure sends new requests to the new servers on the same port', async () => {
    const a = await Backend.start();
    const b = await Backend.start();
    const { proxy, port } = await startProxy({ servers: [serverSpec('a:80', a.port)] });
    try {
      await (await request(`http://127.0.0.1:${port}/1`)).body.text();
      const next = httpConfig(port, { servers: [serverSpec('b:80', b.port)] });
      proxy.reconfigure(next, new HttpRole(next, 1).shared);
      await (await request(`http://127.0.0.1:${port}/2`)).body.text();
      assert.deepEqual(
        a.seen.map((s) => s.url),
        ['/1'],
      );
      assert.deepEqual(
        b.seen.map((s) => s.url),
        ['/2'],
      );
      assert.deepEqual(
        proxy.snapshot().upstreams[0].servers.map((s) => s.name),
        ['b:80'],
      );
    } finally {
      await proxy.close();
      await a.stop();
      await b.stop();
    }
  });

  it('drain stops accepting, lets a request in flight finish, then closes', async () => {
    const slow = await Backend.start((req, res) => {
      req.resume();
      setTimeout(() => res.end('late'), 300);
    });
    const { proxy, port } = await startProxy({ servers: [serverSpec('slow:80', slow.port)] });
    try {
      const pending = request(`http://127.0.0.1:${port}/`);
      await new Promise((r) => setTimeout(r, 100));
      const drained = proxy.drain(Date.now() + 5000);
      const r = await pending;
      assert.equal(r.statusCode, 200);
      assert.equal(await r.body.text(), 'late');
      await drained;
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(false);
        });
        s.once('error', () => resolve(true));
      });
      assert.ok(refused, 'the port still accepts after drain');
    } finally {
      await slow.stop();
    }
  });
});
