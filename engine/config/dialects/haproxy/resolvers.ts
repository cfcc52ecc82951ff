/** A `resolvers` section: where and how often servers with `resolvers ID` are re-resolved. */
import { parseServerAddress } from './addresses.ts';
import type { ResolversState } from './model.ts';
import type { Report, Statement } from './report.ts';
import { parseCount, parseTime } from './units.ts';

export function newResolvers(name: string, stmt: Statement): ResolversState {
  // HAProxy's defaults (configuration.txt 5.3.2).
  return {
    name,
    stmt,
    nameservers: [],
    parseResolvConf: false,
    resolveMs: 1000,
    retryMs: 1000,
    retries: 3,
    holdValidMs: 10000,
  };
}

const TUNING: ReadonlySet<string> = new Set(['accepted_payload_size']);

export function applyResolversStatement(r: ResolversState, stmt: Statement, report: Report): void {
  const w = stmt.words.map((x) => x.text);
  const time = (index: number, set: (ms: number) => void) => {
    const ms = parseTime(w[index] ?? '');
    if (typeof ms === 'string')
      report.error(stmt, `'${w.slice(0, index).join(' ')}': ${ms}`, index);
    else set(ms);
  };
  switch (w[0]) {
    case 'nameserver': {
      const parsed = w[2] === undefined ? null : parseServerAddress(w[2]);
      if (w[1] === undefined || parsed === null) {
        report.error(
          stmt,
          "'nameserver' expects a name and an address, like: nameserver dns1 10.0.0.2:53",
        );
      } else if (!parsed.ok) {
        report.error(stmt, parsed.error, 2);
      } else {
        r.nameservers.push(parsed.value);
      }
      return;
    }
    case 'parse-resolv-conf':
      r.parseResolvConf = true;
      return;
    case 'resolve_retries': {
      const n = parseCount(w[1] ?? '', 1, 2 ** 31 - 1);
      if (typeof n === 'string') report.error(stmt, `'resolve_retries' ${n}`, 1);
      else r.retries = n;
      return;
    }
    case 'timeout':
      if (w[1] === 'resolve')
        time(2, (ms) => {
          r.resolveMs = ms;
        });
      else if (w[1] === 'retry')
        time(2, (ms) => {
          r.retryMs = ms;
        });
      else
        report.error(
          stmt,
          `'timeout ${w[1] ?? ''}' is not a resolvers timeout; they are resolve and retry`,
          1,
        );
      return;
    case 'hold':
      if (w[1] === 'valid')
        time(2, (ms) => {
          r.holdValidMs = ms;
        });
      else if (['nx', 'other', 'refused', 'timeout', 'obsolete'].includes(w[1] ?? '')) {
        report.warn(
          stmt,
          `'hold ${w[1]}' is not used by legate: a failed answer keeps the last good address for 'hold valid'`,
        );
      } else
        report.error(
          stmt,
          `'hold ${w[1] ?? ''}' is not a hold period; they are valid, nx, other, refused, timeout, obsolete`,
          1,
        );
      return;
  }
  if (TUNING.has(w[0])) {
    report.warn(stmt, `'${w[0]}' only tunes HAProxy itself; legate ignores it`);
    return;
  }
  report.error(
    stmt,
    `unknown keyword '${w[0]}' in a resolvers section; legate reads nameserver, parse-resolv-conf, resolve_retries, timeout resolve|retry and hold`,
  );
}
