import type { TcpStatsJson } from '../metrics/tcp-stats.ts';
import type { Style } from './top.ts';

export const TCP_COLUMNS = [
  'SERVICE / SERVER',
  'SESS',
  'MAX',
  'TOTAL',
  'IN',
  'OUT',
  'ECON',
  'RETR',
  'REDIS',
  'QUEUE',
  'STATUS',
  'CHECK',
  'SINCE',
] as const;

export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}K`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1048576).toFixed(1)}M`;
  return `${(n / 1073741824).toFixed(1)}G`;
}

function since(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

/** The TCP broker's table in `legate top`: a row per service, then a row per server of its backend. */
export function renderTcpTable(tcp: TcpStatsJson, style: Style): string[] {
  const rows: string[][] = [];
  const alerts = new Set<number>();
  for (const svc of tcp.services) {
    const b = tcp.backends.find((x) => x.name === svc.backend);
    const up = b?.servers.filter((s) => s.status === 'UP').length ?? 0;
    rows.push([
      svc.name,
      String(svc.scur),
      String(svc.smax),
      String(svc.stot),
      bytes(svc.bin),
      bytes(svc.bout),
      '',
      '',
      '',
      b === undefined ? '' : `${b.qcur}/${b.qmax}`,
      `${up}/${b?.servers.length ?? 0} up`,
      '',
      '',
    ]);
    if (up === 0) alerts.add(rows.length - 1);
    for (const s of b?.servers ?? []) {
      rows.push([
        `  ${s.name}${s.backup ? ' (backup)' : ''}`,
        String(s.scur),
        String(s.smax),
        String(s.stot),
        bytes(s.bin),
        bytes(s.bout),
        String(s.econ),
        String(s.wretr),
        String(s.wredis),
        '',
        s.status,
        s.check === null ? '-' : s.check.code,
        since(s.lastchg_s),
      ]);
      if (s.status !== 'UP') alerts.add(rows.length - 1);
    }
  }
  const widths = TCP_COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const format = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 || i >= 10 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    style.heading(format(TCP_COLUMNS)),
    ...rows.map((r, i) => (alerts.has(i) ? style.alert(format(r)) : format(r))),
  ];
}
