/**
 * The HAProxy dialect: an haproxy.cfg (`mode tcp`) read into legate's broker model, so a user
 * swaps the haproxy image for legate and keeps the file. What is read, warned and refused is
 * listed in the README's "HAProxy dialect" section; the modules under haproxy/ each do one
 * part: lexer (quotes, escapes, variables), condition (`.if`), statements (lines and blocks),
 * global, resolvers, proxy (+ server, checks, keywords), build (the TcpConfig).
 */
import type { ConfigIssue } from '../errors.ts';
import { EMPTY_HTTP } from '../http-types.ts';
import {
  DEFAULT_ADMIN_LISTEN,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_LOG_LEVEL,
  type Settings,
} from '../native.ts';
import { buildTcp } from './haproxy/build.ts';
import { applyGlobalStatement, type GlobalSettings } from './haproxy/global.ts';
import {
  copyProxy,
  newProxy,
  type ProxyKind,
  type ProxyState,
  type ResolversState,
} from './haproxy/model.ts';
import { applyProxyStatement } from './haproxy/proxy.ts';
import { Report, type Statement } from './haproxy/report.ts';
import { applyResolversStatement, newResolvers } from './haproxy/resolvers.ts';
import { Environment, readStatements, SECTION_KEYWORDS } from './haproxy/statements.ts';

export interface HaproxyRead {
  readonly settings: Settings;
  readonly errors: readonly ConfigIssue[];
  readonly warnings: readonly ConfigIssue[];
}

/** Sections that configure only HAProxy's own machinery: their lines are skipped with one warning. */
const TUNING_SECTIONS: ReadonlySet<string> = new Set([
  'peers',
  'mailers',
  'userlist',
  'ring',
  'http-errors',
]);

type Current =
  | { readonly kind: 'none' }
  | { readonly kind: 'global' }
  | { readonly kind: 'proxy'; readonly proxy: ProxyState }
  | { readonly kind: 'resolvers'; readonly resolvers: ResolversState }
  | { readonly kind: 'skipped' };

/**
 * Is this text an haproxy.cfg? Decided on the raw text, before YAML: the first line that is
 * not blank or a comment starts with a section keyword or a `.if`. No YAML file legate reads
 * starts that way (a YAML key is followed by a colon; `global:` is not `global`).
 */
export function looksLikeHaproxy(text: string): boolean {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const first = /^[^\s#]+/.exec(line)?.[0] ?? '';
    return SECTION_KEYWORDS.has(first) || first === '.if';
  }
  return false;
}

export function readHaproxy(
  text: string,
  file: string,
  processEnv: NodeJS.ProcessEnv,
): HaproxyRead {
  const report = new Report(file);
  const env = new Environment(processEnv);
  env.file = file;
  const global: GlobalSettings = { maxconn: null, drainTimeoutMs: null };
  const proxies: ProxyState[] = [];
  const resolvers = new Map<string, ResolversState>();
  const namedDefaults = new Map<string, ProxyState>();
  let defaults: ProxyState | null = null;
  let current: Current = { kind: 'none' };
  const ctx = { report };

  const startProxy = (kind: ProxyKind, stmt: Statement): Current => {
    const words = stmt.words.map((w) => w.text);
    const name = words[1] === 'from' ? '' : (words[1] ?? '');
    const fromAt = words.indexOf('from');
    let base = defaults;
    if (fromAt > 0) {
      const fromName = words[fromAt + 1];
      base = fromName === undefined ? null : (namedDefaults.get(fromName) ?? null);
      if (base === null)
        report.error(
          stmt,
          `unable to find the defaults section '${fromName ?? ''}' named after 'from'`,
          fromAt,
        );
    } else if (words.length > 2) {
      report.error(
        stmt,
        `unexpected '${words[2]}' after '${words[0]} ${words[1]}'; expected 'from <defaults name>' or nothing`,
        2,
      );
    }
    if (kind !== 'defaults' && name === '') {
      report.error(stmt, `'${kind}' expects a name`);
    } else if (kind !== 'defaults' && !/^[A-Za-z0-9_.:-]+$/.test(name)) {
      report.error(
        stmt,
        `invalid ${kind} name '${name}': proxy names use letters, digits, '-', '_', '.' and ':'`,
        1,
      );
    }
    // A defaults section without `from` starts from HAProxy's documented defaults.
    const proxy =
      base === null || (kind === 'defaults' && fromAt < 0)
        ? newProxy(kind, name, stmt)
        : copyProxy(base, kind, name, stmt);
    if (kind === 'defaults') {
      defaults = proxy;
      if (name !== '') namedDefaults.set(name, proxy);
    } else {
      proxies.push(proxy);
    }
    return { kind: 'proxy', proxy };
  };

  readStatements(text, env, report, (stmt) => {
    const keyword = stmt.words[0].text;
    if (SECTION_KEYWORDS.has(keyword)) {
      switch (keyword) {
        case 'global':
          current = { kind: 'global' };
          return;
        case 'defaults':
        case 'frontend':
        case 'backend':
        case 'listen':
          current = startProxy(keyword, stmt);
          return;
        case 'resolvers': {
          const name = stmt.words[1]?.text;
          if (name === undefined) {
            report.error(stmt, "'resolvers' expects a name");
            current = { kind: 'skipped' };
            return;
          }
          if (resolvers.has(name))
            report.error(
              stmt,
              `resolvers '${name}' is defined twice (first on line ${resolvers.get(name)?.stmt.line})`,
              1,
            );
          const r = newResolvers(name, stmt);
          resolvers.set(name, r);
          current = { kind: 'resolvers', resolvers: r };
          return;
        }
      }
      if (TUNING_SECTIONS.has(keyword)) {
        report.warn(
          stmt,
          `a '${keyword}' section only configures HAProxy itself; legate ignores it and its lines`,
        );
      } else {
        report.error(
          stmt,
          `a '${keyword}' section is not supported by legate; remove it (legate reads global, defaults, frontend, backend, listen and resolvers)`,
        );
      }
      current = { kind: 'skipped' };
      return;
    }
    const c: Current = current;
    switch (c.kind) {
      case 'none':
        report.error(
          stmt,
          `'${keyword}' is outside any section; start one with global, defaults, frontend, backend, listen or resolvers`,
        );
        return;
      case 'global':
        applyGlobalStatement(stmt, env, global, report);
        return;
      case 'proxy':
        applyProxyStatement(c.proxy, stmt, ctx);
        return;
      case 'resolvers':
        applyResolversStatement(c.resolvers, stmt, report);
        return;
      case 'skipped':
        return;
    }
  });

  const tcp = buildTcp(proxies, resolvers, global, report);
  if (report.errors.length === 0 && tcp.services.length === 0) {
    report.errorAt(
      0,
      0,
      '',
      'no frontend or listen section: legate would have nothing to serve; add one with a bind line',
    );
  }
  return {
    settings: {
      workers: null,
      admin: { listen: DEFAULT_ADMIN_LISTEN, engine: 'auto' },
      log: { level: DEFAULT_LOG_LEVEL },
      drainTimeoutMs: global.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      redis: [],
      tcp,
      http: EMPTY_HTTP,
    },
    errors: report.errors,
    warnings: report.warnings,
  };
}
