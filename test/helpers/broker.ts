// The TCP broker under test: a native legate.yml with one `tcp:` service, legate started on it,
// and its /stats read back.
import assert from 'node:assert/strict';
import type { TcpServerJson, TcpStatsJson } from '../../engine/metrics/tcp-stats.ts';
import { getStats } from './admin.ts';
import { type RunningProcess, startLegate, writeConfig } from './processes.ts';

export type { TcpServerJson, TcpStatsJson };

/** YAML for one service on `port` with the given server lines (already YAML) and service keys. */
export function serviceYaml(options: {
  name?: string;
  port: number;
  servers: string;
  keys?: string;
  top?: string;
}): string {
  const lines = [
    'drain_timeout: 3000',
    options.top ?? '',
    'tcp:',
    '  services:',
    `    ${options.name ?? 'svc'}:`,
    `      listen: 127.0.0.1:${options.port}`,
    ...(options.keys ?? '')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => `      ${l}`),
    '      servers:',
    ...options.servers
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => `        ${l}`),
    '',
  ];
  return lines.join('\n');
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
