/**
 * The nginx dialect: `legate -c nginx.conf` reads a full nginx.conf (main context with
 * `worker_processes`, `events {}`, `http {}`) or a conf.d snippet (what `include conf.d/*.conf`
 * pulls into http {}: `upstream` and `server` blocks at the top level, like the seed's
 * ConfigMap). The subset legate reads, warns about and refuses is listed in directives.ts and
 * in the README's "nginx dialect" section.
 */
import type { ConfigIssue } from '../errors.ts';
import type { HttpConfig, SplitClientsConfig, UpstreamConfig } from '../http-types.ts';
import {
  DEFAULT_ADMIN_LISTEN,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_LOG_LEVEL,
  type Settings,
} from '../native.ts';
import { EMPTY_TCP } from '../tcp-types.ts';
import { IGNORED } from './nginx/directives.ts';
import { NginxReport } from './nginx/report.ts';
import {
  locationConfig,
  otherDirective,
  type PendingServer,
  readServerBlock,
} from './nginx/server.ts';
import { type Settings as ProxyLevel, readSetting } from './nginx/settings.ts';
import { type Directive, readTree } from './nginx/tree.ts';
import { readUpstream } from './nginx/upstream.ts';
import { parseNumber } from './nginx/values.ts';

/**
 * Whether `text` is an nginx config, decided before any YAML parsing: its first line that is not
 * blank or a comment starts with a directive — a lower-case name not followed by `:` — and holds
 * a `;` or `{` (`upstream backend {`, `worker_processes auto;`, `http {`, and a block on one line:
 * `upstream b { server 10.0.0.1:80; }`). No YAML mapping or list starts that way (a YAML key is
 * followed by a colon; a plain scalar file has no use as a config), nor does an haproxy.cfg.
 */
export function looksLikeNginx(text: string): boolean {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    return (
      /^[a-z_][a-z0-9_]*(\s|[;{])/.test(line) &&
      /[;{]/.test(line) &&
      !/^[a-z_][a-z0-9_]*\s*:/.test(line)
    );
  }
  return false;
}

export interface NginxRead {
  readonly settings: Settings;
  readonly issues: readonly ConfigIssue[];
  readonly warnings: readonly ConfigIssue[];
}

const MAIN_ONLY = new Set(['worker_processes', 'events', 'http']);

function readWorkerProcesses(d: Directive, report: NginxReport): number | null | undefined {
  if (!report.shape(d, false) || !report.arity(d, 1)) return undefined;
  const text = d.args[0].text;
  if (text === 'auto') return null;
  const n = parseNumber(text);
  if (n === null || n === 0) {
    report.at(d, `invalid value "${text}" (a number of at least 1, or auto)`, d.args[0]);
    return undefined;
  }
  return n;
}

function readEvents(d: Directive, report: NginxReport): void {
  if (!report.shape(d, true)) return;
  for (const c of d.block ?? []) otherDirective(c, report, 'events');
}

function readSplitClients(d: Directive, report: NginxReport): SplitClientsConfig | null {
  if (!report.shape(d, true) || !report.arity(d, 2)) return null;
  const variable = d.args[1].text;
  if (!variable.startsWith('$') || variable.length < 2) {
    report.at(d, `invalid variable name "${variable}"`, d.args[1]);
    return null;
  }
  const parts: { percent: number | '*'; value: string }[] = [];
  let sum = 0;
  for (const c of d.block ?? []) {
    if (c.block !== null || c.args.length !== 1) {
      report.at(c, 'invalid number of arguments in split_clients (expected PERCENT VALUE;)');
      continue;
    }
    if (c.name === '*') {
      parts.push({ percent: '*', value: c.args[0].text });
      continue;
    }
    const m = /^(\d+)(?:\.(\d{1,2}))?%$/.exec(c.name);
    if (m === null) {
      report.at(c, `invalid percent value "${c.name}"`);
      continue;
    }
    const hundredths = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
    sum += hundredths;
    if (sum > 10000) report.at(c, 'percent total is greater than 100%');
    parts.push({ percent: hundredths / 100, value: c.args[0].text });
  }
  return { source: d.args[0].text, variable: variable.slice(1), parts };
}

/** Reads the http context: its own settings, upstreams, servers and split_clients. */
function readHttp(
  directives: readonly Directive[],
  report: NginxReport,
  snippet: boolean,
): HttpConfig {
  const level: ProxyLevel = {};
  const upstreams = new Map<string, UpstreamConfig>();
  const upstreamDirectives: Directive[] = [];
  const servers: Directive[] = [];
  const splitClients: SplitClientsConfig[] = [];
  for (const d of directives) {
    if (readSetting(d, 'http', level, report)) continue;
    switch (d.name) {
      case 'upstream':
        upstreamDirectives.push(d);
        break;
      case 'server':
        servers.push(d);
        break;
      case 'split_clients': {
        const split = readSplitClients(d, report);
        if (split !== null) splitClients.push(split);
        break;
      }
      default:
        if (snippet && MAIN_ONLY.has(d.name)) {
          report.at(
            d,
            `"${d.name}" directive is not allowed here: without an http {} block the file is read ` +
              'as a conf.d snippet (the inside of http {})',
          );
        } else otherDirective(d, report, 'http');
    }
  }
  for (const d of upstreamDirectives) {
    const u = readUpstream(d, report);
    if (u === null) continue;
    if (upstreams.has(u.name)) report.at(d, `duplicate upstream "${u.name}"`);
    else upstreams.set(u.name, u);
  }
  const pending = servers.map((d) => readServerBlock(d, level, report)).filter((s) => s !== null);
  return {
    engine: 'auto',
    servers: pending.map((s) => resolveServer(s, upstreams, report)),
    upstreams: [...upstreams.values()],
    splitClients,
  };
}

/** Names each location's upstream: a declared one, or an implicit one-server upstream for host:port. */
function resolveServer(
  server: PendingServer,
  upstreams: Map<string, UpstreamConfig>,
  report: NginxReport,
): HttpConfig['servers'][number] {
  const locations = server.locations.map((location) => {
    const t = location.target;
    const declared = upstreams.get(t.host);
    if (declared !== undefined && t.port !== null && declared.servers.length > 0) {
      report.at(t.d, `upstream "${t.host}" may not have port ${t.port}`, t.d.args[0]);
    }
    if (declared === undefined || t.port !== null) {
      const existing = upstreams.get(t.upstream);
      if (existing === undefined) {
        upstreams.set(t.upstream, {
          name: t.upstream,
          balancer: 'round_robin',
          hashKey: null,
          randomTwo: false,
          sticky: null,
          keepalive: null,
          servers: [
            {
              name: t.upstream,
              host: t.host,
              port: t.port ?? 80,
              weight: 1,
              maxFails: 1,
              failTimeoutMs: 10000,
              maxConns: 0,
              down: false,
              backup: false,
              source: `${t.d.file}:${t.d.line}`,
            },
          ],
        });
      }
    }
    return locationConfig(
      location,
      declared !== undefined && t.port === null ? t.host : t.upstream,
    );
  });
  return { ...server.block, locations };
}

/** Reads an nginx config's text; `file` names it in messages and anchors relative includes. */
export function readNginx(text: string, file: string): NginxRead {
  const report = new NginxReport();
  const tree = readTree(text, file, report);
  const httpBlocks = tree.filter((d) => d.name === 'http');
  let workers: number | null = null;
  let http: HttpConfig;
  if (httpBlocks.length === 0) {
    http = readHttp(tree, report, true);
  } else {
    for (const d of tree) {
      switch (d.name) {
        case 'http':
          if (d !== httpBlocks[0]) report.at(d, '"http" directive is duplicate');
          break;
        case 'worker_processes':
          workers = readWorkerProcesses(d, report) ?? workers;
          break;
        case 'events':
          readEvents(d, report);
          break;
        default:
          if (d.name in IGNORED) report.warn(d, `ignored: ${IGNORED[d.name]}`);
          else if (d.name === 'upstream' || d.name === 'server' || d.name === 'split_clients') {
            report.at(d, `"${d.name}" directive is not allowed here; move it into http {}`);
          } else otherDirective(d, report, 'the main context');
      }
    }
    const h = httpBlocks[0];
    http = report.shape(h, true)
      ? readHttp(h.block ?? [], report, false)
      : readHttp([], report, false);
  }
  if (http.servers.length === 0 && report.issues.length === 0) {
    report.error(
      file,
      1,
      1,
      '',
      'no server {} block: legate needs at least one server with a location to proxy',
    );
  }
  return {
    settings: {
      workers,
      admin: { listen: DEFAULT_ADMIN_LISTEN, engine: 'auto' },
      log: { level: DEFAULT_LOG_LEVEL },
      drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS,
      redis: [],
      tcp: EMPTY_TCP,
      http,
    },
    issues: NginxReport.ordered(report.issues),
    warnings: NginxReport.ordered(report.warnings),
  };
}
