import type { HttpStatsJson } from '../metrics/http-stats.ts';
import type { Style } from './top.ts';
import { millis } from './top.ts';
import { bytes } from './top-tcp.ts';

export const HTTP_COLUMNS = [
  'UPSTREAM / SERVER',
  'REQS',
  'SHARE',
  '2XX',
  '3XX',
  '4XX',
  '5XX',
  'FAIL',
  'IN',
  'OUT',
  'P50',
  'P90',
  'P99',
  'MAX',
  'ACT',
] as const;

function share(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}

/**
 * The HTTP role's table in `legate top`: a row per upstream, then a row per server (an A/B
 * split's variants side by side): requests (tries, for a server) and their share, status
 * classes, failures and timeouts, body bytes, latency in ms since start.
 */
export function renderHttpTable(http: HttpStatsJson, style: Style): string[] {
  const rows: string[][] = [];
  const alerts = new Set<number>();
  for (const u of http.upstreams) {
    const l = u.latency_us;
    rows.push([
      `${u.name} (${u.balancer})`,
      String(u.requests),
      '',
      String(u.status_2xx),
      String(u.status_3xx),
      String(u.status_4xx),
      String(u.status_5xx),
      String(u.no_live_upstreams),
      bytes(u.request_bytes),
      bytes(u.response_bytes),
      millis(l.p50, l.count),
      millis(l.p90, l.count),
      millis(l.p99, l.count),
      millis(l.max, l.count),
      '',
    ]);
    const tries = u.servers.reduce((n, s) => n + s.requests, 0);
    for (const s of u.servers) {
      const sl = s.latency_us;
      rows.push([
        `  ${s.name}${s.backup ? ' (backup)' : ''}${s.down ? ' (down)' : ''}`,
        String(s.requests),
        share(s.requests, tries),
        String(s.status_2xx),
        String(s.status_3xx),
        String(s.status_4xx),
        String(s.status_5xx),
        String(s.failures + s.timeouts),
        bytes(s.request_bytes),
        bytes(s.response_bytes),
        millis(sl.p50, sl.count),
        millis(sl.p90, sl.count),
        millis(sl.p99, sl.count),
        millis(sl.max, sl.count),
        String(s.active),
      ]);
      if (s.failures + s.timeouts > 0) alerts.add(rows.length - 1);
    }
  }
  const widths = HTTP_COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const format = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    'http: requests since start; a server counts each try; latency in ms (server: to its response head)',
    style.heading(format(HTTP_COLUMNS)),
    ...rows.map((r, i) => (alerts.has(i) ? style.alert(format(r)) : format(r))),
  ];
}
