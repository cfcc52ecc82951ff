// The client address behind trusted proxies, nginx 1.22 against legate's RealIp, on one
// nginx.conf both read: each server has its own real_ip settings and passes $remote_addr to an
// echo backend; legate computes the address from the settings it read for that server.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../engine/config/load.ts';
import type { LegateConfig } from '../../engine/config/types.ts';
import { RealIp } from '../../workers/http/balance/real-ip.ts';
import { getFrom, type NginxProcess, nginxHttpPrelude, startNginx } from '../helpers/nginx.ts';
import { freePort } from '../helpers/processes.ts';

const SERVERS = [
  {
    name: 'xff-recursive',
    realIp:
      'set_real_ip_from 127.0.0.0/8; set_real_ip_from 10.0.0.0/8; set_real_ip_from 2001:db8::/32; real_ip_header X-Forwarded-For; real_ip_recursive on;',
  },
  {
    name: 'xff-plain',
    realIp:
      'set_real_ip_from 127.0.0.0/8; set_real_ip_from 10.0.0.0/8; real_ip_header X-Forwarded-For;',
  },
  { name: 'x-real-ip', realIp: 'set_real_ip_from 127.0.0.0/8; real_ip_header X-Real-IP;' },
  {
    name: 'only-127.0.0.1',
    realIp: 'set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For; real_ip_recursive on;',
  },
] as const;

/** Header lines to send: one string is one line, an array several X-Forwarded-For lines. */
const CASES: readonly (string | string[])[] = [
  '1.2.3.4',
  '1.2.3.4, 10.0.0.1',
  '8.8.8.8, 1.2.3.4, 10.0.0.2',
  '10.0.0.1, 10.0.0.2',
  'garbage',
  'bad, 10.0.0.3',
  '1.2.3.4,  ',
  '1.2.3.4:8080',
  '[2001:db8::1]:443',
  '2001:DB8:0::7',
  '2001:db8::1, 2001:db8::2',
  '01.002.3.4',
  '1.2.3.4,10.0.0.9',
  '[::1]',
  '300.1.1.1',
  ['5.5.5.5', '10.0.0.4'],
  ['5.5.5.5, 6.6.6.6', '10.0.0.4'],
  ['bad', '10.0.0.4'],
];

describe('real client address behind proxies: nginx 1.22 and legate', () => {
  let nginx: NginxProcess;
  let echo: Server;
  let config: LegateConfig;
  const ports: number[] = [];

  before(async () => {
    const echoPort = await freePort();
    echo = createServer((req, res) => res.end(String(req.headers['x-client'])));
    await new Promise<void>((resolve) => echo.listen(echoPort, '127.0.0.1', resolve));
    for (const _ of SERVERS) ports.push(await freePort());
    const servers = SERVERS.map(
      (s, i) =>
        `  server { listen 127.0.0.1:${ports[i]}; ${s.realIp}\n    location / { proxy_set_header X-Client $remote_addr; proxy_pass http://echo; } }`,
    );
    const conf = `worker_processes 1;\nevents { }\nhttp {\n${nginxHttpPrelude()}\n  upstream echo { server 127.0.0.1:${echoPort}; }\n${servers.join('\n')}\n}\n`;
    nginx = await startNginx(conf, ports[ports.length - 1]);
    config = loadConfig(join(nginx.dir, 'nginx.conf'), {});
  });

  after(async () => {
    await nginx?.stop();
    await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  });

  SERVERS.forEach((s, i) => {
    it(`${s.name}: every header case and client gives nginx's $remote_addr`, async () => {
      const realIp = new RealIp(config.http.servers[i].realIp!);
      const mismatches: string[] = [];
      const seen = new Set<string>();
      for (const client of ['127.0.0.1', '127.0.0.2']) {
        for (const c of CASES) {
          const lines = typeof c === 'string' ? [c] : c;
          const header = s.name === 'x-real-ip' ? 'x-real-ip' : 'x-forwarded-for';
          const got = await getFrom(ports[i], '/', client, {
            [header]: lines.length === 1 ? lines[0] : lines,
          });
          const want = realIp.resolve(client, lines);
          seen.add(got.body);
          if (got.body !== want)
            mismatches.push(`${client} ${JSON.stringify(c)}: nginx ${got.body}, legate ${want}`);
        }
      }
      assert.deepEqual(mismatches, []);
      assert.ok(seen.size >= 3, `the cases reach several addresses: ${[...seen]}`);
    });
  });
});
