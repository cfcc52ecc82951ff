/** nginx's `upstream NAME { … }` block (ngx_http_upstream.c and the balancer modules, 1.22; sticky from 1.29.6). */
import type {
  HttpBalancer,
  HttpServerSpec,
  StickyCookie,
  UpstreamConfig,
} from '../../http-types.ts';
import { IGNORED, REFUSED } from './directives.ts';
import type { NginxReport } from './report.ts';
import type { Arg, Directive } from './tree.ts';
import { parseNumber, parseServerAddress, parseTime } from './values.ts';

/** Server parameters each method allows (nginx's NGX_HTTP_UPSTREAM_* flags). */
export const ALLOWED_SERVER_PARAMETERS: Readonly<Record<HttpBalancer, ReadonlySet<string>>> = {
  round_robin: new Set(['weight', 'max_conns', 'max_fails', 'fail_timeout', 'down', 'backup']),
  least_conn: new Set(['weight', 'max_conns', 'max_fails', 'fail_timeout', 'down', 'backup']),
  ip_hash: new Set(['weight', 'max_conns', 'max_fails', 'fail_timeout', 'down']),
  hash: new Set(['weight', 'max_conns', 'max_fails', 'fail_timeout', 'down']),
  hash_consistent: new Set(['weight', 'max_conns', 'max_fails', 'fail_timeout', 'down']),
  random: new Set(['weight', 'max_conns', 'max_fails', 'fail_timeout', 'down']),
};

const SAMESITE = ['strict', 'lax', 'none'] as const;

function where(d: Directive): string {
  return `${d.file}:${d.line}`;
}

interface ServerLine {
  readonly d: Directive;
  /** The parameter each server line set, with its argument for messages. */
  readonly params: Map<string, Arg>;
  readonly spec: HttpServerSpec;
}

function readServer(d: Directive, report: NginxReport): ServerLine | null {
  if (!report.shape(d, false) || !report.arity(d, 1, 8)) return null;
  const addr = parseServerAddress(d.args[0].text);
  if (typeof addr === 'string') {
    report.at(d, addr, d.args[0]);
    return null;
  }
  if ('unix' in addr) {
    report.at(d, 'unix-socket upstream servers are not supported yet; use host:port', d.args[0]);
    return null;
  }
  let weight = 1;
  let maxFails = 1;
  let failTimeoutMs = 10000;
  let maxConns = 0;
  let down = false;
  let backup = false;
  const params = new Map<string, Arg>();
  for (const arg of d.args.slice(1)) {
    const eq = arg.text.indexOf('=');
    const key = eq < 0 ? arg.text : arg.text.slice(0, eq);
    const value = eq < 0 ? '' : arg.text.slice(eq + 1);
    let ok = true;
    switch (eq < 0 ? key : `${key}=`) {
      case 'weight=': {
        const n = parseNumber(value);
        ok = n !== null && n > 0;
        if (ok) weight = n!;
        break;
      }
      case 'max_conns=': {
        const n = parseNumber(value);
        ok = n !== null;
        if (ok) maxConns = n!;
        break;
      }
      case 'max_fails=': {
        const n = parseNumber(value);
        ok = n !== null;
        if (ok) maxFails = n!;
        break;
      }
      case 'fail_timeout=': {
        const ms = parseTime(value);
        ok = ms !== null;
        if (ok) failTimeoutMs = ms!;
        break;
      }
      case 'down':
        down = true;
        break;
      case 'backup':
        backup = true;
        break;
      case 'resolve':
      case 'service=':
      case 'route=':
      case 'slow_start=':
      case 'drain':
        report.at(
          d,
          `"${arg.text}" is an nginx Plus server parameter; legate does not read it`,
          arg,
        );
        continue;
      default:
        ok = false;
    }
    if (!ok) {
      report.at(d, `invalid parameter "${arg.text}"`, arg);
      continue;
    }
    params.set(key, arg);
  }
  return {
    d,
    params,
    spec: {
      name: d.args[0].text,
      host: addr.host,
      port: addr.port,
      weight,
      maxFails,
      failTimeoutMs,
      maxConns,
      down,
      backup,
      source: where(d),
    },
  };
}

function readSticky(d: Directive, report: NginxReport): StickyCookie | null {
  if (!report.arity(d, 2, 8)) return null;
  if (d.args[0].text !== 'cookie') {
    report.at(d, `legate reads "sticky cookie" only, not "sticky ${d.args[0].text}"`, d.args[0]);
    return null;
  }
  const name = d.args[1].text;
  if (name === '') {
    report.at(d, 'empty cookie name', d.args[1]);
    return null;
  }
  let expires: StickyCookie['expires'] = null;
  let domain: string | null = null;
  let path: string | null = null;
  let secure = false;
  let httpOnly = false;
  let sameSite: StickyCookie['sameSite'] = null;
  for (const arg of d.args.slice(2)) {
    const t = arg.text;
    if (t.startsWith('expires=')) {
      const v = t.slice(8);
      const ms = v === 'max' ? 'max' : parseTime(v);
      if (ms === null) report.at(d, `invalid expires value "${v}"`, arg);
      else expires = ms === 'max' ? 'max' : Math.floor(ms / 1000);
    } else if (t.startsWith('domain=')) domain = t.slice(7);
    else if (t.startsWith('path=')) path = t.slice(5);
    else if (t === 'secure') secure = true;
    else if (t === 'httponly') httpOnly = true;
    else if (t.startsWith('samesite=')) {
      const v = t.slice(9).toLowerCase();
      if ((SAMESITE as readonly string[]).includes(v)) sameSite = v as StickyCookie['sameSite'];
      else report.at(d, `invalid samesite value "${t.slice(9)}" (strict, lax or none)`, arg);
    } else report.at(d, `invalid parameter "${t}"`, arg);
  }
  return { name, expires, domain, path, secure, httpOnly, sameSite };
}

/** Reads one `upstream NAME { … }`; null when it cannot be used (errors reported). */
export function readUpstream(d: Directive, report: NginxReport): UpstreamConfig | null {
  if (!report.shape(d, true) || !report.arity(d, 1)) return null;
  const name = d.args[0].text;
  // An object, not two lets: setMethod assigns from a closure, which narrowing cannot see.
  const method: { balancer: HttpBalancer; directive: Directive | null } = {
    balancer: 'round_robin',
    directive: null,
  };
  let hashKey: string | null = null;
  let randomTwo = false;
  let sticky: StickyCookie | null = null;
  let keepalive: number | null = null;
  const lines: ServerLine[] = [];
  const setMethod = (c: Directive, kind: HttpBalancer) => {
    if (method.directive !== null)
      report.warn(c, 'load balancing method redefined (nginx warns too); the last one counts');
    method.directive = c;
    method.balancer = kind;
  };
  for (const c of d.block ?? []) {
    switch (c.name) {
      case 'server': {
        const line = readServer(c, report);
        if (line !== null) lines.push(line);
        break;
      }
      case 'ip_hash':
        if (report.arity(c, 0)) setMethod(c, 'ip_hash');
        break;
      case 'least_conn':
        if (report.arity(c, 0)) setMethod(c, 'least_conn');
        break;
      case 'hash':
        if (!report.arity(c, 1, 2)) break;
        if (c.args.length === 2 && c.args[1].text !== 'consistent') {
          report.at(c, `invalid parameter "${c.args[1].text}"`, c.args[1]);
          break;
        }
        setMethod(c, c.args.length === 2 ? 'hash_consistent' : 'hash');
        hashKey = c.args[0].text;
        break;
      case 'random':
        if (!report.arity(c, 0, 2)) break;
        if (c.args.length >= 1 && c.args[0].text !== 'two') {
          report.at(c, `invalid parameter "${c.args[0].text}"`, c.args[0]);
          break;
        }
        if (c.args.length === 2 && c.args[1].text !== 'least_conn') {
          report.at(c, `invalid parameter "${c.args[1].text}"`, c.args[1]);
          break;
        }
        setMethod(c, 'random');
        randomTwo = c.args.length >= 1;
        break;
      case 'sticky':
        sticky = readSticky(c, report) ?? sticky;
        break;
      case 'keepalive': {
        if (!report.arity(c, 1)) break;
        const n = parseNumber(c.args[0].text);
        if (n === null || n === 0) report.at(c, `invalid value "${c.args[0].text}"`, c.args[0]);
        else keepalive = n;
        break;
      }
      case 'keepalive_timeout':
      case 'keepalive_requests':
        report.warn(
          c,
          `ignored: legate keeps idle upstream connections open until the upstream closes them`,
        );
        break;
      default:
        if (c.name in IGNORED) report.warn(c, `ignored: ${IGNORED[c.name]}`);
        else if (c.name in REFUSED)
          report.at(c, `"${c.name}" is not supported: ${REFUSED[c.name]}`);
        else {
          report.at(
            c,
            `unknown directive "${c.name}" in upstream "${name}"; legate reads the subset in the README (nginx dialect)`,
          );
        }
    }
  }
  const balancer = method.balancer;
  const allowed = ALLOWED_SERVER_PARAMETERS[balancer];
  for (const line of lines) {
    for (const [param, arg] of line.params) {
      if (!allowed.has(param)) {
        report.at(line.d, `balancing method does not support parameter "${arg.text}"`, arg);
      }
    }
  }
  if (lines.length === 0) {
    report.at(d, `no servers are inside upstream "${name}"`);
    return null;
  }
  if (lines.every((l) => l.spec.backup)) {
    report.at(d, `no servers in upstream "${name}" (all are backup)`);
    return null;
  }
  if ((balancer === 'hash' || balancer === 'hash_consistent') && hashKey === '') {
    report.at(method.directive ?? d, 'the hash key is empty');
  }
  return {
    name,
    balancer,
    hashKey,
    randomTwo,
    sticky,
    servers: lines.map((l) => l.spec),
    keepalive,
  };
}
