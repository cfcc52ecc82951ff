// PROXY protocol toward a real nginx (listen … proxy_protocol), v1 and v2: the client's address
// and the one it connected to; and what happens to open sessions of a server marked DOWN:
// closed with on_down: close, kept with keep.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, it } from 'node:test';
import { brokerYaml, serverStats, startBroker } from '../helpers/broker.ts';
import { sleep, until } from '../helpers/faults.ts';
import { nginxHttpPrelude, startNginx } from '../helpers/nginx.ts';
import { freePort, type RedisProcess, startShards, stopAll } from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

let redis: RedisProcess[] = [];

before(async () => {
  redis = await startShards(1);
});

after(async () => {
  await stopAll(redis);
});

function get(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/' }, (res) => {
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

it('send_proxy v1 and v2: nginx reads the client address and the address the client connected to', async () => {
  const nginxPort = await freePort();
  const nginx = await startNginx(
    `events {}\nhttp {\n  ${nginxHttpPrelude()}\n  server {\n    listen 127.0.0.1:${nginxPort} proxy_protocol;\n    location / { return 200 "$proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port\\n"; }\n  }\n}\n`,
    nginxPort,
  );
  // Two binds each: the header names the one the client connected to, not the first.
  const ports = {
    v1: [await freePort(), await freePort()],
    v2: [await freePort(), await freePort()],
  };
  const service = (v: 'v1' | 'v2') => ({
    name: `p${v}`,
    port: ports[v][0],
    listen: `[127.0.0.1:${ports[v][0]}, 127.0.0.2:${ports[v][1]}]`,
    servers: `- address: 127.0.0.1:${nginxPort}\n  send_proxy: ${v}`,
  });
  const broker = await startBroker(brokerYaml([service('v1'), service('v2')]));
  try {
    for (const v of ['v1', 'v2'] as const) {
      for (const [host, port] of [
        ['127.0.0.1', ports[v][0]],
        ['127.0.0.2', ports[v][1]],
      ] as const) {
        const answer = await get(host, port);
        const [client, clientPort, server, serverPort] = answer.trim().split(' ');
        assert.match(client, /^127\.0\.0\.\d+$/, `${v} to ${host}:${port}: ${answer}`);
        assert.notEqual(clientPort, String(nginxPort));
        assert.deepEqual([server, serverPort], [host, String(port)], `${v}: ${answer}`);
      }
    }
  } finally {
    await broker.stop();
    await nginx.stop();
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
