// PROXY protocol toward a real nginx (listen … proxy_protocol), v1 and v2; and what happens to
// open sessions of a server marked DOWN: closed with on_down: close, kept with keep.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { acceptsConnections } from '../../engine/cli/redis-process.ts';
import { brokerYaml, serverStats, startBroker } from '../helpers/broker.ts';
import { sleep, until } from '../helpers/faults.ts';
import { freePort, type RedisProcess, startShards, stopAll } from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

let redis: RedisProcess[] = [];

before(async () => {
  redis = await startShards(1);
});

after(async () => {
  await stopAll(redis);
});

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

it('send_proxy v1 and v2: nginx reads the client address from the header', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'legate-nginx-'));
  const nginxPort = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  server {\n    listen 127.0.0.1:${nginxPort} proxy_protocol;\n    location / { return 200 "$proxy_protocol_addr $proxy_protocol_port\\n"; }\n  }\n}\n`,
  );
  const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  const [v1, v2] = [await freePort(), await freePort()];
  const service = (port: number, v: string) => ({
    name: `p${v}`,
    port,
    servers: `- address: 127.0.0.1:${nginxPort}\n  send_proxy: ${v}`,
  });
  const broker = await startBroker(brokerYaml([service(v1, 'v1'), service(v2, 'v2')]));
  try {
    await until(() => acceptsConnections(nginxPort), 5000, 'nginx listening');
    for (const port of [v1, v2]) {
      const answer = await get(port);
      assert.match(answer, /^127\.0\.0\.1 \d+\n$/, `through port ${port}`);
      assert.notEqual(answer.trim().split(' ')[1], String(nginxPort));
    }
  } finally {
    await broker.stop();
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});

it('a server marked DOWN: on_down close ends its sessions, keep leaves them', async () => {
  const [closePort, keepPort] = [await freePort(), await freePort()];
  const service = (name: string, port: number, onDown: string) => ({
    name,
    port,
    keys: `on_down: ${onDown}\ncheck:\n  type: redis\n  interval: 100\n  fall: 1\n  rise: 1`,
    servers: `- address: 127.0.0.1:${redis[0].port}\n  name: r`,
  });
  const broker = await startBroker(
    brokerYaml([service('closing', closePort, 'close'), service('keeping', keepPort, 'keep')]),
  );
  const admin = await RawClient.connect(redis[0].port);
  try {
    const closing = await RawClient.connect(closePort);
    const keeping = await RawClient.connect(keepPort);
    assert.equal((await closing.command('PING')).toString(), '+PONG\r\n');
    assert.equal((await keeping.command('PING')).toString(), '+PONG\r\n');
    // The redis check now fails (-NOAUTH) while the open, authenticated sessions still work.
    await admin.command('CONFIG', 'SET', 'requirepass', 'secret');
    await until(
      async () => (await serverStats(broker.adminPort, 'r', 'closing')).status === 'DOWN',
      5000,
      'marked DOWN',
    );
    assert.ok(await closing.waitClosed(3000), 'on_down: close ended the session');
    await sleep(500);
    assert.equal((await keeping.command('PING')).toString(), '+PONG\r\n', 'on_down: keep left it');
    keeping.close();
  } finally {
    await admin.command('AUTH', 'secret');
    await admin.command('CONFIG', 'SET', 'requirepass', '');
    admin.close();
    await broker.stop();
  }
});
