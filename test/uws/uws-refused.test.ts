// The host side of the uws lane: where uWebSockets.js cannot load (glibc < 2.38, e.g. Debian 12),
// `admin.engine: uws` must stop legate with the reason, and `auto` must fall back to node:http
// and say why. Skipped where uWS loads; admin-uws.test.ts covers that side.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  type RedisProcess,
  runLegate,
  startLegate,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { uwsLoadError } from './uws-here.ts';

const loadError = uwsLoadError();

/** A legate.yml with one pool over `shardPort` and the admin server on `engine`. */
async function configFor(engine: string, shardPort: number) {
  return writeConfig(
    [
      'workers: 1',
      'admin:',
      `  listen: 127.0.0.1:${await freePort()}`,
      `  engine: ${engine}`,
      'redis:',
      '  main:',
      `    listen: 127.0.0.1:${await freePort()}`,
      '    redis: true',
      '    servers:',
      `      - 127.0.0.1:${shardPort}:1`,
      '',
    ].join('\n'),
  );
}

describe('admin.engine where uWebSockets.js cannot load', {
  skip: loadError === null ? 'uWebSockets.js loads here' : false,
}, () => {
  // The reason legate gives: the glibc symbol version the binary wants, when that is the cause.
  const reason = /GLIBC_[\d.]+/.exec(loadError ?? '')?.[0];
  let shards: RedisProcess[] = [];
  const cleanups: (() => void)[] = [];

  before(async () => {
    shards = await startShards(1);
  });

  after(async () => {
    await stopAll(shards);
    for (const c of cleanups) c();
  });

  it("'uws' stops legate with exit 1 and says why", async () => {
    const config = await configFor('uws', shards[0].port);
    cleanups.push(config.cleanup);
    const r = await runLegate(['-c', config.file, '-s', '0'], { timeoutMs: 20000 });
    const output = r.stdout.toString() + r.stderr;
    assert.equal(r.code, 1, output);
    const expected = reason
      ? `http engine 'uws' cannot load uWebSockets.js: its binary needs ${reason}, newer than this system's glibc`
      : "http engine 'uws' cannot load uWebSockets.js: ";
    assert.ok(output.includes(`"msg":"cannot start: ${expected}`), output);
  });

  it("'auto' falls back to node:http, logs why, and serves", async () => {
    const config = await configFor('auto', shards[0].port);
    cleanups.push(config.cleanup);
    const legate = await startLegate(['-c', config.file]);
    try {
      const why = reason
        ? `uWebSockets.js does not load here (its binary needs ${reason}, newer than this system's glibc)`
        : 'uWebSockets.js does not load here (';
      assert.ok(
        legate.output().includes(`(node engine: ${why}`),
        `no fallback line in:\n${legate.output()}`,
      );
      const r = await fetch(`http://127.0.0.1:${legate.adminPort}/healthz`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'ok\n');
    } finally {
      assert.equal(await legate.stop(), 0, legate.output());
    }
  });
});
