/** The proxies and resolvers read from an haproxy.cfg, turned into the broker's TcpConfig. */
import { formatAddress } from '../../address.ts';
import type {
  DnsConfig,
  HealthCheckKind,
  TcpBackendConfig,
  TcpConfig,
  TcpServerSpec,
  TcpServiceConfig,
} from '../../tcp-types.ts';
import type { GlobalSettings } from './global.ts';
import type { ProxyState, ResolversState } from './model.ts';
import type { Report } from './report.ts';

/**
 * With no `timeout connect`, HAProxy waits for the kernel to give up: Linux's default of six
 * SYN retries (1+2+4+8+16+32+64 s). The engine needs a number, so it gets that one.
 */
export const KERNEL_CONNECT_TIMEOUT_MS = 127_000;

export function buildTcp(
  proxies: readonly ProxyState[],
  resolvers: ReadonlyMap<string, ResolversState>,
  global: GlobalSettings,
  report: Report,
): TcpConfig {
  const backends = proxies.filter((p) => p.kind === 'backend' || p.kind === 'listen');
  const frontends = proxies.filter((p) => p.kind === 'frontend' || p.kind === 'listen');
  uniqueNames(backends, 'backend', report);
  uniqueNames(frontends, 'frontend', report);
  const byName = new Map(backends.map((b) => [b.name, b]));
  const built: TcpBackendConfig[] = [];
  for (const b of backends) {
    const backend = buildBackend(b, resolvers, report);
    if (backend !== undefined) built.push(backend);
  }
  const services: TcpServiceConfig[] = [];
  const bound = new Map<string, number>();
  for (const f of frontends) {
    if (f.binds.length === 0) {
      if (f.sawBind) continue;
      report.error(
        f.stmt,
        `${f.kind} '${f.name}' has no 'bind' line; add one (like bind 127.0.0.1:5432), or make it a backend`,
      );
      continue;
    }
    for (const { address, stmt } of f.binds) {
      const key = formatAddress(address);
      const first = bound.get(key);
      if (first !== undefined)
        report.error(
          stmt,
          `${key} is bound twice (first on line ${first}); give each service its own address`,
          1,
        );
      else bound.set(key, stmt.line);
    }
    const ref = f.useBackend ?? f.defaultBackend;
    let backend: string;
    if (ref !== null) {
      if (!byName.has(ref.name)) {
        report.error(
          ref.stmt,
          `${f.kind} '${f.name}': unable to find required backend '${ref.name}'`,
          1,
        );
        continue;
      }
      backend = ref.name;
    } else if (f.kind === 'listen') {
      backend = f.name;
    } else {
      report.error(
        f.stmt,
        `frontend '${f.name}' has no default_backend: HAProxy would accept and close every connection; add 'default_backend NAME'`,
      );
      continue;
    }
    warnMissingTimeouts(f, report);
    services.push({
      name: f.name,
      listen: f.binds.map((b) => b.address),
      maxconn: f.maxconn ?? global.maxconn,
      backend,
      clientTimeoutMs: f.timeouts.client,
      clientFinTimeoutMs: f.timeouts.clientFin,
    });
  }
  for (const b of backends) if (b.kind === 'backend') warnMissingTimeouts(b, report);
  return { services, backends: built };
}

function uniqueNames(proxies: readonly ProxyState[], what: string, report: Report): void {
  const seen = new Map<string, ProxyState>();
  for (const p of proxies) {
    const first = seen.get(p.name);
    if (first !== undefined) {
      report.error(
        p.stmt,
        `${p.kind} '${p.name}' has the same name as the ${first.kind} on line ${first.stmt.line}; ${what} names must be unique`,
        1,
      );
    } else {
      seen.set(p.name, p);
    }
  }
}

/** HAProxy's own warning for the same file: a missing inactivity or connect timeout is infinite. */
function warnMissingTimeouts(p: ProxyState, report: Report): void {
  const missing: string[] = [];
  if ((p.kind === 'frontend' || p.kind === 'listen') && p.timeouts.client === null)
    missing.push('client');
  if (p.kind !== 'frontend' && p.timeouts.connect === null) missing.push('connect');
  if (p.kind !== 'frontend' && p.timeouts.server === null) missing.push('server');
  if (missing.length === 0) return;
  const connect = missing.includes('connect')
    ? ` (without timeout connect, legate gives up after ${KERNEL_CONNECT_TIMEOUT_MS / 1000} s, as the kernel does for HAProxy)`
    : '';
  report.warn(
    p.stmt,
    `missing timeouts for ${p.kind} '${p.name}': ${missing.join(', ')}; unset means infinite${connect}`,
  );
}

/** A per-server setting the engine keeps per backend: every server must agree. */
function agreed<T>(
  b: ProxyState,
  what: string,
  get: (s: ProxyState['servers'][number]) => T,
  report: Report,
): T | undefined {
  const values = [...new Set(b.servers.map(get))];
  if (values.length > 1) {
    report.error(
      b.servers[0].stmt,
      `backend '${b.name}': legate applies ${what} to a whole backend; give every server the same (use default-server)`,
    );
    return undefined;
  }
  return values[0];
}

function buildBackend(
  b: ProxyState,
  resolvers: ReadonlyMap<string, ResolversState>,
  report: Report,
): TcpBackendConfig | undefined {
  const servers: TcpServerSpec[] = b.servers.map((s) => ({
    name: s.name,
    host: s.host,
    port: s.port,
    weight: s.params.weight,
    backup: s.params.backup,
    maxconn: s.params.maxconn,
    check: s.params.check,
    timing: {
      intervalMs: s.params.interMs,
      fall: s.params.fall,
      rise: s.params.rise,
      timeoutMs: b.timeouts.check,
    },
    sendProxy: s.params.sendProxy,
    resolve: s.params.resolvers !== null,
    initAddrNone: s.params.initAddr?.includes('none') ?? false,
    source: `${report.file}:${s.stmt.line}`,
    id: s.params.id,
  }));
  for (const s of b.servers) {
    const name = s.params.resolvers;
    if (name !== null && !resolvers.has(name)) {
      const at = s.stmt.words.findIndex((w) => w.text === 'resolvers');
      report.error(
        s.stmt,
        `backend '${b.name}', server '${s.name}': unable to find required resolvers '${name}'; add a 'resolvers ${name}' section`,
        Math.max(at, 0),
      );
    }
  }
  if (b.balance === 'source' && b.hashType !== null) {
    report.error(
      b.hashType,
      `backend '${b.name}': balance source hashes map-based only in legate (HAProxy's default), not consistent or with avalanche; remove this hash-type or make it map-based`,
      1,
    );
  }
  const shutdown = agreed(
    b,
    "'on-marked-down shutdown-sessions'",
    (s) => s.params.shutdownSessions,
    report,
  );
  const resolverNames = b.servers
    .map((s) => s.params.resolvers)
    .filter((r): r is string => r !== null);
  const resolverName = agreed(
    { ...b, servers: b.servers.filter((s) => s.params.resolvers !== null) },
    "one 'resolvers' section",
    (s) => s.params.resolvers,
    report,
  );
  let dns: DnsConfig | null = null;
  if (resolverNames.length > 0 && resolverName !== undefined && resolverName !== null) {
    const r = resolvers.get(resolverName);
    if (r !== undefined) dns = dnsOf(r, report);
  }
  return {
    name: b.name,
    balance: b.balance,
    servers,
    check: checkOf(b, report),
    postgres: b.check?.kind === 'postgres',
    connectTimeoutMs: b.timeouts.connect ?? KERNEL_CONNECT_TIMEOUT_MS,
    serverTimeoutMs: b.timeouts.server,
    tunnelTimeoutMs: b.timeouts.tunnel,
    queueTimeoutMs: b.timeouts.queue,
    retries: b.retries,
    redispatch: b.redispatch,
    shutdownSessionsOnDown: shutdown ?? false,
    allBackups: b.allBackups,
    dns,
  };
}

function checkOf(b: ProxyState, report: Report): HealthCheckKind {
  if (b.check?.kind !== 'send-expect') {
    if (b.tcpCheck.length > 0 && !b.tcpCheckInherited) {
      report.warn(
        b.stmt,
        `backend '${b.name}' has tcp-check rules but no 'option tcp-check': the rules are not used (as in HAProxy)`,
      );
    }
    return b.check ?? { kind: 'tcp' };
  }
  if (b.tcpCheck.length === 0) return { kind: 'tcp' };
  // HAProxy connects first when the rules do not start with a connect; the model says so outright.
  const steps =
    b.tcpCheck[0].op === 'connect'
      ? b.tcpCheck
      : [{ op: 'connect' as const, port: null }, ...b.tcpCheck];
  return { kind: 'send-expect', steps };
}

function dnsOf(r: ResolversState, report: Report): DnsConfig {
  if (r.nameservers.length === 0 && !r.parseResolvConf) {
    report.warn(
      r.stmt,
      `resolvers '${r.name}' has no nameservers configured: HAProxy would never re-resolve; legate asks the system resolver`,
    );
  } else if (r.nameservers.length > 0 && r.parseResolvConf) {
    report.warn(
      r.stmt,
      `resolvers '${r.name}' has nameserver lines and parse-resolv-conf: legate asks the listed nameservers only`,
    );
  }
  return {
    nameservers: r.nameservers,
    intervalMs: r.resolveMs,
    holdValidMs: r.holdValidMs,
    retries: r.retries,
    retryMs: r.retryMs,
  };
}
