// The TCP broker under test: a native legate.yml with one `tcp:` service, legate started on it,
// and its /stats read back.
import assert from 'node:assert/strict';
import type { TcpServerJson, TcpStatsJson } from '../../engine/metrics/tcp-stats.ts';
import { getStats } from './admin.ts';
import { type RunningProcess, startLegate, writeConfig } from './processes.ts';
import { RawClient } from './resp.ts';

export type { TcpServerJson, TcpStatsJson };

export interface ServiceOptions {
  name?: string;
  port: number;
  /** The listen value, YAML (default 127.0.0.1:port). */
  listen?: string;
  /** Server lines, already YAML (a list), indented by the helper. */
  servers: string;
  /** More service keys, YAML lines. */
  keys?: string;
}

/** One service's block under `tcp.services`. */
export function serviceBlock(o: ServiceOptions): string {
  const indent = (text: string, by: string) =>
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => `${by}${l}`);
  return [
    `    ${o.name ?? 'svc'}:`,
    `      listen: ${o.listen ?? `127.0.0.1:${o.port}`}`,
    ...indent(o.keys ?? '', '      '),
    '      servers:',
    ...indent(o.servers, '        '),
    '',
  ].join('\n');
}

export interface FileOptions {
  /** drain_timeout in ms (default 3000). */
  drain?: number;
  /** tcp.env, the default profile. */
  env?: string;
}

/** A legate.yml with these services. */
export function brokerYaml(services: readonly ServiceOptions[], file: FileOptions = {}): string {
  return [
    `drain_timeout: ${file.drain ?? 3000}`,
    'tcp:',
    ...(file.env === undefined ? [] : [`  env: ${file.env}`]),
    '  services:',
    ...services.map(serviceBlock),
  ].join('\n');
}

/** A legate.yml with one service. */
export function serviceYaml(options: ServiceOptions & FileOptions): string {
  return brokerYaml([options], options);
}

export interface Broker {
  readonly legate: RunningProcess;
  readonly config: { file: string; cleanup(): void };
  readonly adminPort: number;
  stop(): Promise<void>;
}

export async function startBroker(
  yaml: string,
  options: { workers?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Broker> {
  const config = writeConfig(yaml);
  const legate = await startLegate(
    ['-c', config.file, '-w', String(options.workers ?? 2)],
    options.env,
  );
  return {
    legate,
    config,
    adminPort: legate.adminPort ?? 0,
    async stop() {
      await legate.stop();
      config.cleanup();
    },
  };
}

export async function tcpStats(adminPort: number): Promise<TcpStatsJson> {
  const stats = await getStats(adminPort);
  assert.ok(stats.tcp, '/stats has a tcp section');
  return stats.tcp;
}

export async function serverStats(
  adminPort: number,
  server: string,
  backend = 'svc',
): Promise<TcpServerJson> {
  const b = (await tcpStats(adminPort)).backends.find((x) => x.name === backend);
  assert.ok(b, `backend ${backend} in /stats`);
  const s = b.servers.find((x) => x.name === server);
  assert.ok(s, `server ${server} in backend ${backend}`);
  return s;
}

/** The port of the redis-server a connection through the broker is on (CONFIG GET port). */
export async function redisPortOf(c: RawClient): Promise<number> {
  const reply = (await c.command('CONFIG', 'GET', 'port')).toString();
  return Number(/\$\d+\r\n(\d+)\r\n$/.exec(reply)?.[1]);
}

/** The port of the redis-server a new session through `port` reaches. */
export async function reachedPort(port: number): Promise<number> {
  const c = await RawClient.connect(port);
  try {
    return await redisPortOf(c);
  } finally {
    c.close();
  }
}
