// A client that asks for an Upgrade, gets its answer (404: no location matches; 502: no live
// upstream) and then resets the connection must cost nothing but its own connection. Before the
// fix, the reset's ECONNRESET reached a socket node:http had handed over with no 'error' listener,
// and the worker thread died with every client on it.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { Backend } from '../helpers/http.ts';
import { freePort, type RunningProcess, startLegate, writeConfig } from '../helpers/processes.ts';

/** Sends an Upgrade request, waits for the status line, then resets (RST) the connection. */
function upgradeThenReset(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () =>
      s.write(
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      ),
    );
    s.once('data', (d: Buffer) => {
      s.resetAndDestroy();
      resolve(d.toString('latin1').split('\r\n')[0]);
    });
    s.once('error', reject);
  });
}

describe('an Upgrade request answered at once, then a reset', () => {
  let legate: RunningProcess;
  let backend: Backend;
  let port: number;
  let config: { file: string; cleanup(): void };
  before(async () => {
    backend = await Backend.start();
    port = await freePort();
    const dead = await freePort();
    config = writeConfig(
      [
        `upstream live { server 127.0.0.1:${backend.port}; }`,
        `upstream gone { server 127.0.0.1:${dead} max_fails=0; }`,
        'server {',
        `  listen 127.0.0.1:${port};`,
        '  location /app/ { proxy_pass http://live; }',
        '  location /gone/ { proxy_pass http://gone; }',
        '}',
        '',
      ].join('\n'),
      'nginx.conf',
    );
    legate = await startLegate(['-c', config.file, '-w', '1']);
  });
  after(async () => {
    await legate?.stop();
    await backend.stop();
    config.cleanup();
  });

  it('leaves the worker serving, with no worker death in the log', async () => {
    for (let i = 0; i < 20; i++) {
      assert.match(await upgradeThenReset(port, '/nowhere'), /^HTTP\/1\.1 404 /);
      assert.match(await upgradeThenReset(port, '/gone/ws'), /^HTTP\/1\.1 50[24] /);
    }
    await new Promise((r) => setTimeout(r, 200));
    const r = await request(`http://127.0.0.1:${port}/app/x`);
    assert.equal(r.statusCode, 200);
    await r.body.text();
    assert.doesNotMatch(legate.output(), /worker \d+ died/);
  });
});
