import { createServer } from 'node:net';
import { freePort } from '../redis-process.ts';
import { type LocalServer, serveOnLoopback } from './local-server.ts';
import type { ConfigPart, Pod } from './pod.ts';
import type { ChosenPort } from './ports.ts';
import { findPostgresBin, type LocalPostgres, startLocalPostgres } from './postgres.ts';

export const BROKER_TITLE = 'service broker (HAProxy mode tcp)';

/** What the broker fronts: a PostgreSQL the demo started, or an echo service where there is none. */
type Database =
  | { readonly kind: 'postgres'; readonly server: LocalPostgres }
  | { readonly kind: 'echo'; readonly server: LocalServer; readonly why: string };

/** A TCP service that sends back what it receives: the broker's backend where PostgreSQL is not installed. */
export function startEchoService(): Promise<LocalServer> {
  return serveOnLoopback(createServer((socket) => socket.pipe(socket)));
}

async function startDatabase(bin: string | null): Promise<Database> {
  if (bin === null) {
    return {
      kind: 'echo',
      server: await startEchoService(),
      why: 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres)',
    };
  }
  try {
    return { kind: 'postgres', server: await startLocalPostgres(bin, await freePort()) };
  } catch (err) {
    return {
      kind: 'echo',
      server: await startEchoService(),
      why: `PostgreSQL did not start: ${(err as Error).message.split('\n')[0]}`,
    };
  }
}

/** One TCP service on `port` in front of the database (checked as HAProxy's pgsql-check does) or the echo service. */
export function brokerPart(port: number, kind: Database['kind'], backendPort: number): ConfigPart {
  const isPostgres = kind === 'postgres';
  return {
    tcp: {
      services: {
        [kind]: {
          listen: `127.0.0.1:${port}`,
          balance: 'leastconn',
          ...(isPostgres ? { postgres: true } : {}),
          check: isPostgres
            ? { type: 'postgres', user: 'postgres', interval: '2s' }
            : { type: 'tcp', interval: '2s' },
          servers: [`127.0.0.1:${backendPort}`],
        },
      },
    },
  };
}

/**
 * The seed's HAProxy pod: the service broker on 5432 in front of a local PostgreSQL (health
 * checked as HAProxy's pgsql-check does), or of an echo service where PostgreSQL is missing.
 * `postgresBin` null forces the echo service.
 */
export async function startBrokerPod(
  listen: ChosenPort,
  postgresBin: string | null = findPostgresBin(),
): Promise<Pod> {
  const db = await startDatabase(postgresBin);
  const p = listen.port;
  const isPostgres = db.kind === 'postgres';
  return {
    title: BROKER_TITLE,
    port: p,
    config: brokerPart(p, db.kind, db.server.port),
    notes: [
      ...(listen.note === null ? [] : [listen.note]),
      db.kind === 'postgres'
        ? `backend: PostgreSQL ${db.server.version} on 127.0.0.1:${db.server.port} (user postgres, trust), health-checked`
        : `${db.why}; backend: a TCP echo service on 127.0.0.1:${db.server.port} instead`,
    ],
    tryIt: isPostgres
      ? [`psql -h 127.0.0.1 -p ${p} -U postgres -c 'select 1'`]
      : [`bash -c 'exec 3<>/dev/tcp/127.0.0.1/${p}; echo hello >&3; head -n1 <&3'`],
    stop: () => db.server.stop(),
  };
}
