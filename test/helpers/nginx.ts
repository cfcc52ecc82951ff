// The real nginx (Debian's 1.22) and small named backends, for differential tests of the HTTP role.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from '../../engine/cli/redis-process.ts';
import { freePort, type RunningProcess, track } from './processes.ts';

/** The seed's ConfigMap (ambassador-experiment.yaml), as mounted at /etc/nginx/conf.d/nginx.conf. */
export const SEED_NGINX_CONF = `upstream backend {
  ip_hash;
  server web-prod:80 weight=9;
  server web-experiment:80 weight=1;
}
server {
  listen 80;
  location / {
    proxy_pass http://backend;
  }
}
`;

export interface NginxProcess extends RunningProcess {
  readonly dir: string;
}

/**
 * Runs `nginx -p DIR -c nginx.conf` in the foreground with `body` as the whole config, in a
 * fresh temporary directory (temp paths and the pid file inside it, so it needs no root paths),
 * and waits until it accepts connections on `port`. stop() removes the directory.
 */
export async function startNginx(body: string, port: number): Promise<NginxProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'legate-nginx-'));
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, body);
  const child = spawn(
    'nginx',
    ['-p', dir, '-c', file, '-g', `daemon off; pid ${join(dir, 'pid')}; error_log stderr;`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const proc = track(child);
  try {
    await waitForPort(port, child, 10000, 'nginx');
  } catch (err) {
    proc.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}:\n${proc.output()}`);
  }
  const stop = proc.stop;
  return {
    ...proc,
    dir,
    async stop(signal?: NodeJS.Signals) {
      const code = await stop(signal);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** The http{} settings every test nginx needs to run unprivileged from its own directory. */
export function nginxHttpPrelude(dir = '.'): string {
  return [
    'access_log off;',
    `client_body_temp_path ${dir}/client_body;`,
    `proxy_temp_path ${dir}/proxy;`,
    `fastcgi_temp_path ${dir}/fastcgi;`,
    `uwsgi_temp_path ${dir}/uwsgi;`,
    `scgi_temp_path ${dir}/scgi;`,
  ].join('\n');
}

export interface NamedBackend {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
}

/** HTTP servers on free loopback ports that answer every request with their own name. */
export async function startNamedBackends(names: readonly string[]): Promise<NamedBackend[]> {
  return Promise.all(
    names.map(async (name) => {
      const port = await freePort();
      const server = createServer((_req, res) => {
        res.setHeader('content-type', 'text/plain');
        res.end(name);
      });
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      return { name, port, server };
    }),
  );
}

export async function stopBackends(backends: readonly NamedBackend[]): Promise<void> {
  await Promise.all(
    backends.map((b) => new Promise<void>((resolve) => b.server.close(() => resolve()))),
  );
}

/** One GET on a new connection from `localAddress` (any 127.x.y.z works on Linux); the body. */
export function getFrom(
  port: number,
  path: string,
  localAddress = '127.0.0.1',
  headers: Record<string, string | string[]> = {},
): Promise<{
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, localAddress, agent: false, headers, timeout: 10000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Runs `count` async jobs, `width` at a time, results in index order. */
export async function inBatches<T>(
  count: number,
  width: number,
  job: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += width) {
    const batch = Array.from({ length: Math.min(width, count - i) }, (_, k) => job(i + k));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}
