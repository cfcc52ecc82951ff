import { formatAddress } from '../config/address.ts';
import type { TcpRole } from '../roles/tcp.ts';
import { Exposition } from './prometheus.ts';

/** One server of a TCP backend, HAProxy's stats fields by their names. */
export interface TcpServerJson {
  readonly name: string;
  /** `host:port` as configured, and the address dialled now (null: unresolved). */
  readonly server: string;
  readonly address: string | null;
  readonly status: string;
  readonly admin: string;
  readonly weight: number;
  readonly backup: boolean;
  readonly maxconn: number | null;
  readonly scur: number;
  readonly smax: number;
  readonly stot: number;
  readonly bin: number;
  readonly bout: number;
  readonly econ: number;
  readonly wretr: number;
  readonly wredis: number;
  /** The last check: HAProxy's code (L4OK, L4CON, L7RSP…) and why; null before one ran or without checks. */
  readonly check: {
    readonly code: string;
    readonly reason: string;
    readonly duration_ms: number;
    readonly at_ms: number;
  } | null;
  readonly chkfail: number;
  readonly chkdown: number;
  /** Seconds since the last status change. */
  readonly lastchg_s: number;
  /** Seconds spent DOWN in total, the current stretch included. */
  readonly downtime_s: number;
}

export interface TcpBackendJson {
  readonly name: string;
  readonly balance: string;
  readonly qcur: number;
  readonly qmax: number;
  readonly servers: readonly TcpServerJson[];
}

export interface TcpServiceJson {
  readonly name: string;
  readonly listen: readonly string[];
  readonly backend: string;
  readonly scur: number;
  readonly smax: number;
  readonly stot: number;
  /** Bytes from clients, and to them. */
  readonly bin: number;
  readonly bout: number;
}

export interface TcpStatsJson {
  readonly services: readonly TcpServiceJson[];
  readonly backends: readonly TcpBackendJson[];
}

/** The TCP broker's part of GET /stats, read from shared memory and the role's state. */
export function tcpStatsJson(role: TcpRole): TcpStatsJson {
  const now = Date.now();
  return {
    services: role.config.services.map((s, i) => {
      const m = role.services[i].memory;
      const t = m.totals();
      return {
        name: s.name,
        listen: s.listen.map(formatAddress),
        backend: s.backend,
        scur: m.current(),
        smax: m.max(),
        stot: t.stot,
        bin: t.bin,
        bout: t.bout,
      };
    }),
    backends: role.backends.map((b) => ({
      name: b.config.name,
      balance: b.config.balance,
      qcur: b.memory.queued(),
      qmax: b.memory.queueMax(),
      servers: b.servers.map((s) => {
        const i = s.index;
        const m = b.memory;
        return {
          name: s.spec.name,
          server: `${s.spec.host}:${s.spec.port}`,
          address: s.address,
          status: b.status(s),
          admin: s.admin,
          weight: s.spec.weight,
          backup: s.spec.backup,
          maxconn: s.spec.maxconn,
          scur: m.current(i),
          smax: m.maxSessions(i),
          stot: m.total(i, 'stot'),
          bin: m.total(i, 'bin'),
          bout: m.total(i, 'bout'),
          econ: m.total(i, 'econ'),
          wretr: m.total(i, 'wretr'),
          wredis: m.total(i, 'wredis'),
          check:
            s.lastCheck === null
              ? null
              : {
                  code: s.lastCheck.code,
                  reason: s.lastCheck.reason,
                  duration_ms: Math.round(s.lastCheck.durationMs),
                  at_ms: s.lastCheck.at,
                },
          chkfail: s.checkFailures,
          chkdown: s.timesDown,
          lastchg_s: Math.floor((now - s.lastChange) / 1000),
          downtime_s: Math.floor(
            (s.downtimeMs + (s.downSince === null ? 0 : now - s.downSince)) / 1000,
          ),
        };
      }),
    })),
  };
}

const STATUSES = ['UP', 'DOWN', 'DRAIN', 'MAINT', 'MAINT(resolution)'];

/** The TCP broker's part of /metrics. */
export function renderTcpPrometheus(stats: TcpStatsJson): string {
  const x = new Exposition();
  const service = (
    metric: string,
    field: 'scur' | 'smax' | 'stot' | 'bin' | 'bout',
    help: string,
    type: 'counter' | 'gauge',
  ) =>
    x.family(metric, type, help, () => {
      for (const s of stats.services) x.sample(metric, { service: s.name }, s[field]);
    });
  service(
    'legate_tcp_service_sessions',
    'scur',
    'Open client sessions of the TCP service.',
    'gauge',
  );
  service('legate_tcp_service_sessions_max', 'smax', 'Most client sessions open at once.', 'gauge');
  service('legate_tcp_service_sessions_total', 'stot', 'Client sessions accepted.', 'counter');
  service('legate_tcp_service_bytes_in_total', 'bin', 'Bytes received from clients.', 'counter');
  service('legate_tcp_service_bytes_out_total', 'bout', 'Bytes sent to clients.', 'counter');
  type Field =
    | 'scur'
    | 'smax'
    | 'stot'
    | 'bin'
    | 'bout'
    | 'econ'
    | 'wretr'
    | 'wredis'
    | 'chkfail'
    | 'chkdown'
    | 'lastchg_s'
    | 'downtime_s';
  const server = (metric: string, field: Field, help: string, type: 'counter' | 'gauge') =>
    x.family(metric, type, help, () => {
      for (const b of stats.backends)
        for (const s of b.servers) x.sample(metric, { backend: b.name, server: s.name }, s[field]);
    });
  server('legate_tcp_server_sessions', 'scur', 'Open sessions on the server.', 'gauge');
  server(
    'legate_tcp_server_sessions_max',
    'smax',
    'Most sessions open on the server at once.',
    'gauge',
  );
  server(
    'legate_tcp_server_sessions_total',
    'stot',
    'Sessions established with the server.',
    'counter',
  );
  server('legate_tcp_server_bytes_in_total', 'bin', 'Bytes sent to the server.', 'counter');
  server('legate_tcp_server_bytes_out_total', 'bout', 'Bytes received from the server.', 'counter');
  server(
    'legate_tcp_server_connect_errors_total',
    'econ',
    'Failed connection attempts to the server.',
    'counter',
  );
  server(
    'legate_tcp_server_retries_total',
    'wretr',
    'Connection attempts retried after a failure on the server.',
    'counter',
  );
  server(
    'legate_tcp_server_redispatches_total',
    'wredis',
    'Sessions moved to this server after a failure elsewhere.',
    'counter',
  );
  server('legate_tcp_server_check_failures_total', 'chkfail', 'Failed health checks.', 'counter');
  server(
    'legate_tcp_server_downs_total',
    'chkdown',
    'Times the server was marked DOWN.',
    'counter',
  );
  server(
    'legate_tcp_server_last_change_seconds',
    'lastchg_s',
    'Seconds since the status last changed.',
    'gauge',
  );
  server('legate_tcp_server_downtime_seconds', 'downtime_s', 'Seconds spent DOWN.', 'counter');
  x.family(
    'legate_tcp_server_status',
    'gauge',
    'The server status (1 for the current one).',
    () => {
      for (const b of stats.backends)
        for (const s of b.servers)
          for (const st of STATUSES)
            x.sample(
              'legate_tcp_server_status',
              { backend: b.name, server: s.name, state: st },
              s.status === st ? 1 : 0,
            );
    },
  );
  x.family(
    'legate_tcp_backend_queue',
    'gauge',
    'Sessions waiting for a server slot (maxconn).',
    () => {
      for (const b of stats.backends)
        x.sample('legate_tcp_backend_queue', { backend: b.name }, b.qcur);
    },
  );
  x.family('legate_tcp_backend_queue_max', 'gauge', 'Most sessions waiting at once.', () => {
    for (const b of stats.backends)
      x.sample('legate_tcp_backend_queue_max', { backend: b.name }, b.qmax);
  });
  return x.toString();
}
