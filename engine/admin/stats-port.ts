import { createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import type { AdminSource } from './admin-server.ts';

/**
 * twemproxy's stats document, with its field names, so tools written for nutcracker's stats port
 * keep working. legate's differs in `service` and `version`, and is fresh (at most one snapshot
 * interval old) rather than up to 30 s old.
 */
export function twemproxyStats(source: AdminSource): Record<string, unknown> {
  const states = source.serverStates();
  let total = 0;
  let current = 0;
  const doc: Record<string, unknown> = {
    service: 'legate',
    source: hostname(),
    version: source.version,
    uptime: Math.floor((Date.now() - source.startedAt) / 1000),
    timestamp: Math.floor(Date.now() / 1000),
  };
  const pools: Record<string, unknown> = {};
  for (const p of source.pools()) {
    const st = states.get(p.name) ?? [];
    total += p.counters.client_accepted;
    current += p.counters.client_connections;
    const pool: Record<string, unknown> = {
      client_eof: p.counters.client_eof,
      client_err: p.counters.client_err,
      client_connections: p.counters.client_connections,
      server_ejects: st.reduce((n, s) => n + s.ejects, 0),
      forward_error: p.counters.forward_error,
      fragments: p.counters.fragments,
    };
    p.servers.forEach((s, i) => {
      // nutcracker counts server connections in both totals. Workers report only the open
      // ones, so those stand for "opened" too: a lower bound, but never below curr_connections.
      current += s.counters.server_connections;
      total += s.counters.server_connections;
      const c = s.counters;
      pool[s.name] = {
        server_eof: c.server_eof,
        server_err: c.server_err,
        server_timedout: c.server_timedout,
        server_connections: c.server_connections,
        server_ejected_at: (st[i]?.ejectedAt ?? 0) * 1_000_000,
        requests: c.requests,
        request_bytes: c.request_bytes,
        responses: c.responses,
        response_bytes: c.response_bytes,
        in_queue: c.in_queue,
        in_queue_bytes: c.in_queue_bytes,
        out_queue: c.out_queue,
        out_queue_bytes: c.out_queue_bytes,
      };
    });
    pools[p.name] = pool;
  }
  return { ...doc, total_connections: total, curr_connections: current, ...pools };
}

/** nutcracker's stats port: on connect, one JSON document, then close. */
export function startStatsPort(host: string, port: number, source: AdminSource): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.end(`${JSON.stringify(twemproxyStats(source))}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

/** nutcracker -D: the stats fields and what they mean (legate's meanings, nutcracker's names). */
export const STATS_DESCRIPTIONS: {
  readonly pool: readonly [string, string][];
  readonly server: readonly [string, string][];
} = {
  pool: [
    ['client_eof', '# eof on client connections'],
    ['client_err', '# errors on client connections'],
    ['client_connections', '# active client connections'],
    ['server_ejects', '# times backend server was ejected'],
    ['forward_error', '# times we encountered a forwarding error'],
    ['fragments', '# fragments created from a multi-vector request'],
  ],
  server: [
    ['server_eof', '# eof on server connections'],
    ['server_err', '# errors on server connections'],
    ['server_timedout', '# timeouts on server connections'],
    ['server_connections', '# active server connections'],
    ['server_ejected_at', 'timestamp when server was ejected in usec since epoch'],
    ['requests', '# requests'],
    ['request_bytes', 'total request bytes'],
    ['responses', '# responses'],
    ['response_bytes', 'total response bytes'],
    ['in_queue', '# requests in incoming queue'],
    ['in_queue_bytes', 'current request bytes in incoming queue'],
    ['out_queue', '# requests in outgoing queue'],
    ['out_queue_bytes', 'current request bytes in outgoing queue'],
  ],
};

export function describeStats(): string {
  const rows = (list: readonly [string, string][]) =>
    list.map(([k, v]) => `  ${k.padEnd(20)}"${v}"`).join('\n');
  return `pool stats:\n${rows(STATS_DESCRIPTIONS.pool)}\n\nserver stats:\n${rows(STATS_DESCRIPTIONS.server)}\n`;
}
