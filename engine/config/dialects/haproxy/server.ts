/**
 * The words after `server NAME ADDRESS` and `default-server`: what legate runs, what it accepts
 * with a warning (it tunes only HAProxy), and what it refuses with what to use instead.
 */
import type { ServerParams } from './model.ts';
import type { Report, Statement } from './report.ts';
import { parseCount, parseTime } from './units.ts';

/** Words that take no value and only tune HAProxy's own behaviour. */
const TUNING_FLAGS: ReadonlySet<string> = new Set(['tfo', 'no-tfo', 'enabled']);
/** Words that take one value and only tune HAProxy's own behaviour. */
const TUNING_VALUES: ReadonlySet<string> = new Set([
  'cookie',
  'resolve-prefer',
  'resolve-opts',
  'resolve-net',
  'pool-max-conn',
  'pool-purge-delay',
  'pool-low-conn',
  'max-reuse',
  'log-proto',
  'namespace',
  'tcp-ut',
  'proto',
]);

/** Refused with what to use instead. */
const REFUSED: Readonly<Record<string, string>> = {
  ssl: 'legate passes TLS through untouched and does not speak TLS to servers; remove ssl (PostgreSQL clients negotiate TLS themselves)',
  'check-ssl': 'legate has no TLS health checks; use a plain check',
  port: "legate checks the server's own port; remove 'port' (or give the server that port)",
  addr: "legate checks the server's own address; remove 'addr'",
  'agent-check': 'legate has no agent checks; use check with an option *-check',
  'on-marked-up': 'legate does not close backup sessions when an active server returns; remove it',
  maxqueue: "legate does not cap a server's queue; the wait is bounded by 'timeout queue'",
  slowstart: 'legate gives a server its full weight at once; remove slowstart',
  fastinter: "legate checks every 'inter' whatever the server's state; use inter",
  downinter: "legate checks every 'inter' whatever the server's state; use inter",
  observe: "legate marks servers down by health checks only; remove 'observe'",
  'error-limit': "legate marks servers down by health checks only; remove 'error-limit'",
  'on-error': "legate marks servers down by health checks only; remove 'on-error'",
  track: 'legate has no tracked servers; give the server its own check',
  redir: "'redir' is for mode http; legate's broker is mode tcp",
  'send-proxy-v2-ssl': 'legate sends PROXY v1 or v2 without TLS fields; use send-proxy-v2',
  'send-proxy-v2-ssl-cn': 'legate sends PROXY v1 or v2 without TLS fields; use send-proxy-v2',
  'check-send-proxy': "legate's checks do not send a PROXY header; remove it",
  source: 'legate does not choose a source address; remove it',
  usesrc: 'legate does not choose a source address; remove it',
  'init-state': 'legate starts checked servers as HAProxy 2.9 does by default; remove init-state',
};

/** `inter`, `fall`, … on a `server` or `default-server` line, applied over `params`. */
export function readServerParams(
  stmt: Statement,
  from: number,
  params: ServerParams,
  report: Report,
): ServerParams {
  const p = { ...params };
  const words = stmt.words;
  const what = words[0].text;
  for (let i = from; i < words.length; i++) {
    const word = words[i].text;
    const valueAt = i + 1;
    const value = () => {
      const v = words[valueAt]?.text;
      if (v === undefined) report.error(stmt, `'${word}' expects a value`, i);
      i++;
      return v;
    };
    const time = (set: (ms: number) => void) => {
      const v = value();
      if (v === undefined) return;
      const ms = parseTime(v);
      if (typeof ms === 'string') report.error(stmt, `'${word}': ${ms}`, valueAt);
      else if (ms === 0) report.error(stmt, `'${word}' must be greater than 0`, valueAt);
      else set(ms);
    };
    const count = (min: number, max: number, set: (n: number) => void) => {
      const v = value();
      if (v === undefined) return;
      const n = parseCount(v, min, max);
      if (typeof n === 'string') report.error(stmt, `'${word}' ${n}`, valueAt);
      else set(n);
    };
    switch (word) {
      case 'check':
        p.check = true;
        break;
      case 'no-check':
        p.check = false;
        break;
      case 'backup':
        p.backup = true;
        break;
      case 'no-backup':
        p.backup = false;
        break;
      case 'send-proxy':
        p.sendProxy = 'v1';
        break;
      case 'send-proxy-v2':
        p.sendProxy = 'v2';
        break;
      case 'no-send-proxy':
      case 'no-send-proxy-v2':
        p.sendProxy = null;
        break;
      case 'disabled':
        p.disabled = true;
        break;
      case 'inter':
        time((ms) => {
          p.interMs = ms;
        });
        break;
      case 'fall':
        count(1, 2 ** 31 - 1, (n) => {
          p.fall = n;
        });
        break;
      case 'rise':
        count(1, 2 ** 31 - 1, (n) => {
          p.rise = n;
        });
        break;
      case 'id':
        if (what === 'default-server') {
          // HAProxy alerts and goes on without it.
          report.warn(stmt, "'id' is not accepted on default-server; HAProxy ignores it too", i);
          i++;
        } else
          count(1, 2 ** 31 - 1, (n) => {
            p.id = n;
          });
        break;
      case 'weight':
        count(0, 256, (n) => {
          p.weight = n;
        });
        break;
      case 'maxconn':
        // HAProxy's maxconn 0 means no limit.
        count(0, 2 ** 31 - 1, (n) => {
          p.maxconn = n === 0 ? null : n;
        });
        break;
      case 'resolvers': {
        const v = value();
        // Checked once the whole file is read: the section may come later.
        if (v !== undefined) p.resolvers = v;
        break;
      }
      case 'init-addr': {
        const v = value();
        if (v === undefined) break;
        const methods = v.split(',');
        const bad = methods.find((m) => m !== 'last' && m !== 'libc' && m !== 'none');
        if (bad !== undefined) {
          const hint = /^[\d.:]+$/.test(bad)
            ? 'legate does not start a server on a fixed fallback address; use none to start without one'
            : 'the methods are last, libc and none';
          report.error(stmt, `init-addr method '${bad}' is not supported: ${hint}`, valueAt);
        } else {
          p.initAddr = methods;
        }
        break;
      }
      case 'on-marked-down': {
        const v = value();
        if (v === undefined) break;
        if (v === 'shutdown-sessions') p.shutdownSessions = true;
        else
          report.error(
            stmt,
            `on-marked-down '${v}' is not supported; the only action is shutdown-sessions`,
            valueAt,
          );
        break;
      }
      default: {
        if (TUNING_FLAGS.has(word)) {
          report.warn(stmt, `'${word}' only tunes HAProxy; legate ignores it`, i);
        } else if (TUNING_VALUES.has(word)) {
          report.warn(stmt, `'${word}' only tunes HAProxy; legate ignores it`, i);
          i++;
        } else if (REFUSED[word] !== undefined) {
          report.error(stmt, `'${word}' on ${what}: ${REFUSED[word]}`, i);
          return p;
        } else {
          report.error(
            stmt,
            `unknown ${what} keyword '${word}' (legate reads check, inter, fall, rise, backup, weight, maxconn, id, resolvers, init-addr, on-marked-down, send-proxy, send-proxy-v2, disabled)`,
            i,
          );
          // The words after an unknown one cannot be told apart from its values.
          return p;
        }
      }
    }
  }
  return p;
}
