/** One statement of a defaults, frontend, backend or listen section, applied to its ProxyState. */

import { didYouMean } from '../../suggest.ts';
import { TCP_BALANCES, type TcpBalance } from '../../tcp-types.ts';
import { parseBindAddress, parseServerAddress } from './addresses.ts';
import { isCheckOption, readCheckOption, readTcpCheckRule } from './checks.ts';
import { type Capability, HTTP_ONLY, HTTP_PREFIXES, READ, REFUSED, TUNING } from './keywords.ts';
import type { ProxyState, Timeouts } from './model.ts';
import type { Report, Statement } from './report.ts';
import { readServerParams } from './server.ts';
import { parseCount, parseTime } from './units.ts';

const USE_HTTP = "for HTTP use legate's nginx, envoy or native http dialects";

/** `hash-type` functions: HAProxy 2.6's, and `none` from 2.9 (the seed's image). */
const HASH_FUNCTIONS: readonly string[] = ['sdbm', 'djb2', 'wt6', 'crc32', 'none'];

const BALANCE_HINTS: Readonly<Record<string, string>> = {
  'static-rr':
    "use roundrobin: the same share per server in every cycle (legate never changes weights at run time), though with unequal weights the order within a cycle differs from static-rr's map",
  random: 'use leastconn (spreads sessions by load) or roundrobin',
  uri: `'balance uri' is for mode http; ${USE_HTTP}`,
  url_param: `'balance url_param' is for mode http; ${USE_HTTP}`,
  hdr: `'balance hdr' is for mode http; ${USE_HTTP}`,
  'rdp-cookie': 'use source for a sticky choice',
  hash: 'use source for a sticky choice',
};

const TIMEOUTS: Readonly<Record<string, keyof Timeouts>> = {
  connect: 'connect',
  client: 'client',
  server: 'server',
  queue: 'queue',
  check: 'check',
  tunnel: 'tunnel',
  'client-fin': 'clientFin',
};

/** What the proxy's kind lets it do: listen is a frontend and a backend. */
function capabilities(proxy: ProxyState): readonly Capability[] {
  switch (proxy.kind) {
    case 'defaults':
      return ['D'];
    case 'frontend':
      return ['F'];
    case 'backend':
      return ['B'];
    case 'listen':
      return ['F', 'B'];
  }
}

const BIND_TUNING: ReadonlySet<string> = new Set([
  'name',
  'id',
  'backlog',
  'nice',
  'thread',
  'process',
  'mss',
  'tfo',
  'v4v6',
  'v6only',
  'defer-accept',
  'user',
  'group',
  'uid',
  'gid',
  'mode',
  'level',
  'maxconn',
  'interface',
  'namespace',
]);
const BIND_FLAGS: ReadonlySet<string> = new Set(['tfo', 'v4v6', 'v6only', 'defer-accept']);

export interface ProxyContext {
  readonly report: Report;
}

export function applyProxyStatement(proxy: ProxyState, stmt: Statement, ctx: ProxyContext): void {
  const { report } = ctx;
  const words = stmt.words.map((w) => w.text);
  // `no option X` turns off an option a defaults section turned on.
  const negated = words[0] === 'no';
  const w = negated ? words.slice(1) : words;
  const at = negated ? 1 : 0;
  const two = `${w[0]} ${w[1] ?? ''}`;
  const key = w[0] === 'option' || w[0] === 'timeout' ? two : w[0];
  const here = proxy.kind === 'defaults' ? "'defaults' section" : `${proxy.kind} '${proxy.name}'`;

  if (w[0] === 'mode') {
    if (w[1] === 'tcp') return;
    if (w[1] === 'http') {
      report.error(
        stmt,
        `mode http is not read by legate's HAProxy dialect, which runs the TCP broker (mode tcp); ${USE_HTTP}`,
        at + 1,
      );
    } else {
      report.error(
        stmt,
        `mode '${w[1] ?? ''}' is not supported; legate's HAProxy dialect runs mode tcp`,
        at + 1,
      );
    }
    return;
  }
  if (TUNING.has(key) || TUNING.has(w[0])) {
    report.warn(stmt, `'${key}' only tunes HAProxy itself; legate ignores it`, at);
    return;
  }
  if (HTTP_ONLY.has(key)) {
    report.warn(
      stmt,
      `'${key}' applies to mode http only; in mode tcp HAProxy ignores it and so does legate`,
      at,
    );
    return;
  }
  if (REFUSED[key] !== undefined || REFUSED[w[0]] !== undefined) {
    const k = REFUSED[key] !== undefined ? key : w[0];
    report.error(stmt, `'${k}' is not supported: ${REFUSED[k]}`, at);
    return;
  }
  if (HTTP_PREFIXES.some((p) => w[0].startsWith(p))) {
    report.error(
      stmt,
      `'${w[0]}' is for mode http, which legate's HAProxy dialect does not read; ${USE_HTTP}`,
      at,
    );
    return;
  }
  if (w[0] === 'option' && w[1] !== undefined && isCheckOption(w[1]) && READ[key] === undefined) {
    readCheckOption(stmt, report);
    return;
  }
  const allowed = READ[key];
  if (allowed === undefined) {
    const known = Object.keys(READ);
    const what = w[0] === 'option' || w[0] === 'timeout' ? `'${two.trim()}'` : `keyword '${w[0]}'`;
    report.error(
      stmt,
      `unknown ${what} in ${here}${didYouMean(key, known)}; see the README's HAProxy dialect section for what legate reads`,
      at,
    );
    return;
  }
  const caps = capabilities(proxy);
  if (!caps.some((c) => allowed.includes(c))) {
    // HAProxy refuses these outright; the other misplaced keywords it ignores with a warning.
    if (proxy.kind === 'defaults' || key === 'server' || key === 'default-server') {
      report.error(stmt, `'${key}' not allowed in ${here}`, at);
    } else {
      const missing = allowed.includes('F') ? 'frontend' : 'backend';
      report.warn(stmt, `'${key}' ignored because ${here} has no ${missing} capability`, at);
    }
    return;
  }
  if (negated && w[0] !== 'option') {
    report.error(stmt, `'no' applies to options only, not to '${w[0]}'`, 0);
    return;
  }

  switch (w[0]) {
    case 'enabled':
      return;
    case 'bind':
      readBind(proxy, stmt, report);
      return;
    case 'default_backend':
    case 'use_backend': {
      if (w[1] === undefined) {
        report.error(stmt, `'${w[0]}' expects a backend name`);
        return;
      }
      if (w[0] === 'use_backend') {
        if (w.length > 2) {
          report.error(
            stmt,
            'a conditional use_backend is not supported: legate sends a service to one backend; choose it with .if/.else on an environment variable and default_backend',
            2,
          );
          return;
        }
        proxy.useBackend ??= { name: w[1], stmt };
        return;
      }
      if (w.length > 2)
        report.error(stmt, `unexpected '${w[2]}' after 'default_backend ${w[1]}'`, 2);
      proxy.defaultBackend = { name: w[1], stmt };
      return;
    }
    case 'maxconn': {
      const n = parseCount(w[1] ?? '', 0, 2 ** 31 - 1);
      if (typeof n === 'string') report.error(stmt, `'maxconn' ${n}`, 1);
      else proxy.maxconn = n === 0 ? null : n;
      return;
    }
    case 'retries': {
      const n = parseCount(w[1] ?? '', 0, 2 ** 31 - 1);
      if (typeof n === 'string') report.error(stmt, `'retries' ${n}`, 1);
      else proxy.retries = n;
      return;
    }
    case 'balance': {
      const algo = w[1] ?? '';
      if ((TCP_BALANCES as readonly string[]).includes(algo)) {
        if (w.length > 2) report.error(stmt, `unexpected '${w[2]}' after 'balance ${algo}'`, 2);
        else proxy.balance = algo as TcpBalance;
      } else {
        const hint = BALANCE_HINTS[algo] ?? `legate balances with ${TCP_BALANCES.join(', ')}`;
        report.error(stmt, `'balance ${algo}' is not supported: ${hint}`, 1);
      }
      return;
    }
    case 'hash-type': {
      const [method, fn, modifier] = [w[1], w[2], w[3]];
      if (method !== 'map-based' && method !== 'consistent')
        report.error(stmt, `'hash-type' expects map-based or consistent, got '${method ?? ''}'`, 1);
      else if (fn !== undefined && !HASH_FUNCTIONS.includes(fn))
        report.error(
          stmt,
          `'hash-type' function '${fn}' is not one of ${HASH_FUNCTIONS.join(', ')}`,
          2,
        );
      else if (modifier !== undefined && modifier !== 'avalanche')
        report.error(stmt, `'hash-type' modifier '${modifier}' is not avalanche`, 3);
      else if (w.length > 4) report.error(stmt, `unexpected '${w[4]}' after 'hash-type'`, 4);
      // The function does not change balance source (get_server_sh never calls it); the rest does.
      else proxy.hashType = method === 'map-based' && modifier === undefined ? null : stmt;
      return;
    }
    case 'default-server':
      proxy.defaultServer = readServerParams(stmt, 1, proxy.defaultServer, report);
      return;
    case 'server':
      readServer(proxy, stmt, ctx);
      return;
    case 'tcp-check': {
      const step = readTcpCheckRule(stmt, report);
      if (proxy.tcpCheckInherited) {
        proxy.tcpCheck = [];
        proxy.tcpCheckInherited = false;
      }
      if (step !== undefined) proxy.tcpCheck.push(step);
      return;
    }
    case 'timeout': {
      const field = TIMEOUTS[w[1]];
      if (w[2] === undefined) {
        report.error(stmt, `'timeout ${w[1]}' expects a time`, 1);
        return;
      }
      const ms = parseTime(w[2]);
      if (typeof ms === 'string') report.error(stmt, `'timeout ${w[1]}': ${ms}`, at + 2);
      // 0 is HAProxy's "no timeout".
      else proxy.timeouts[field] = ms === 0 ? null : ms;
      return;
    }
    case 'option':
      readOption(proxy, stmt, w, negated, report);
      return;
  }
}

function readOption(
  proxy: ProxyState,
  stmt: Statement,
  w: readonly string[],
  negated: boolean,
  report: Report,
): void {
  const name = w[1];
  if (name === 'redispatch') {
    if (w[2] !== undefined && w[2] !== '1' && w[2] !== '-1') {
      report.error(
        stmt,
        "legate redispatches on the last retry (HAProxy's default); remove the interval",
        2,
      );
      return;
    }
    proxy.redispatch = !negated;
    return;
  }
  if (name === 'allbackups') {
    proxy.allBackups = !negated;
    return;
  }
  if (negated) {
    // `no option pgsql-check` is not a thing in HAProxy: checks are replaced, not negated.
    report.error(stmt, `'no option ${name}' is not valid; write the check you want instead`, 0);
    return;
  }
  const check = readCheckOption(stmt, report);
  if (check !== undefined) proxy.check = check;
}

function readBind(proxy: ProxyState, stmt: Statement, report: Report): void {
  const words = stmt.words;
  proxy.sawBind = true;
  if (words[1] === undefined) {
    report.error(stmt, "'bind' expects an address, like 127.0.0.1:5432 or :5432");
    return;
  }
  for (const part of words[1].text.split(',')) {
    const parsed = parseBindAddress(part);
    if (parsed.ok) proxy.binds.push({ address: parsed.value, stmt });
    else report.error(stmt, parsed.error, 1);
  }
  for (let i = 2; i < words.length; i++) {
    const opt = words[i].text;
    if (BIND_TUNING.has(opt)) {
      report.warn(stmt, `bind option '${opt}' only tunes HAProxy itself; legate ignores it`, i);
      if (!BIND_FLAGS.has(opt)) i++;
    } else {
      const hint =
        opt === 'ssl' || opt === 'crt'
          ? 'legate passes TLS through to the server; remove ssl/crt'
          : opt === 'accept-proxy'
            ? 'legate does not read PROXY headers from clients; remove it'
            : 'remove it';
      report.error(stmt, `bind option '${opt}' is not supported: ${hint}`, i);
      return;
    }
  }
}

function readServer(proxy: ProxyState, stmt: Statement, ctx: ProxyContext): void {
  const { report } = ctx;
  const words = stmt.words;
  const name = words[1]?.text;
  const address = words[2]?.text;
  if (name === undefined || address === undefined) {
    report.error(
      stmt,
      "'server' expects a name and an address, like: server db1 10.0.0.1:5432 check",
    );
    return;
  }
  const first = proxy.servers.find((s) => s.name === name);
  if (first !== undefined) {
    report.error(
      stmt,
      `${proxy.kind} '${proxy.name}': another server named '${name}' was already defined at line ${first.stmt.line}, please use distinct names`,
      1,
    );
    return;
  }
  const params = readServerParams(stmt, 3, proxy.defaultServer, report);
  const same =
    params.id === null ? undefined : proxy.servers.find((s) => s.params.id === params.id);
  if (same !== undefined) {
    report.error(
      stmt,
      `${proxy.kind} '${proxy.name}', server '${name}': id ${params.id} is already used at line ${same.stmt.line} (server '${same.name}')`,
      stmt.words.findIndex((w) => w.text === 'id') + 1,
    );
    return;
  }
  const parsed = parseServerAddress(address);
  if (!parsed.ok) {
    report.error(stmt, parsed.error, 2);
    return;
  }
  let host = parsed.value.host;
  if (host === '' || host === '*') {
    report.warn(
      stmt,
      `server '${name}' has no host (an unset variable?): HAProxy reads that as 0.0.0.0, this machine, and so does legate`,
      2,
    );
    host = '0.0.0.0';
  }
  if (params.disabled) {
    report.warn(
      stmt,
      `server '${name}' is disabled: legate leaves it out (HAProxy keeps it in MAINT until enabled at run time)`,
      1,
    );
    return;
  }
  proxy.servers.push({ name, host, port: parsed.value.port, params, stmt });
}
