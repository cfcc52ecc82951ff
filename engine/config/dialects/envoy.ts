/**
 * `legate -c envoy.yaml`: Envoy's static bootstrap, the subset facts/envoy.md lists —
 * listeners with an http_connection_manager and the router, inline routes, clusters (STATIC,
 * STRICT_DNS, LOGICAL_DNS) with circuit_breakers, outlier_detection and common_lb_config.
 * Detected by content: a YAML mapping with `static_resources`. `admin` and access logs are
 * accepted with a warning; any other field, a bad duration or a wrong type is refused with
 * file:line:column and the field path. `${VAR}` is not expanded (Envoy does not either).
 */
import { isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { formatAddress } from '../address.ts';
import { applyEnvOverrides } from '../env.ts';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import type { UpstreamConfig } from '../http-types.ts';
import { DEFAULT_ADMIN_LISTEN, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_LOG_LEVEL } from '../native.ts';
import { type Slot, slotOf } from '../read.ts';
import { ConfigSource } from '../source.ts';
import { EMPTY_TCP } from '../tcp-types.ts';
import type { Address, LegateConfig } from '../types.ts';
import { type EnvoyCluster, readCluster, socketAddress } from './envoy/cluster.ts';
import { type EnvoyListener, readListener } from './envoy/listener.ts';
import { type EnvoyContext, fields, list, need } from './envoy/values.ts';

/** A YAML document whose top level is a mapping with a `static_resources` key. */
export function looksLikeEnvoy(root: Node | null | undefined): boolean {
  return (
    isMap(root) &&
    root.items.some((pair) => isScalar(pair.key) && pair.key.value === 'static_resources')
  );
}

function readAdmin(slot: Slot, ctx: EnvoyContext): Address | undefined {
  const f = fields(
    slot,
    ctx,
    {
      known: ['address'],
      warned: {
        access_log: 'accepted, not written',
        access_log_path: 'accepted, not written',
        profile_path: 'accepted, not used',
      },
    },
    'admin',
  );
  const a = f?.get('address');
  if (a === undefined) return undefined;
  const address = socketAddress(slotOf(a), ctx, true);
  if (address === undefined) return undefined;
  ctx.warn.report(
    slot.place,
    slot.path,
    `Envoy's admin interface is not served; legate's admin (/stats, /metrics, /healthz, /readyz) listens on ${address.host}:${address.port} instead`,
  );
  return { kind: 'tcp', host: address.host, port: address.port };
}

function readResources(
  slot: Slot,
  ctx: EnvoyContext,
): { listeners: EnvoyListener[]; clusters: EnvoyCluster[] } {
  const f = fields(slot, ctx, { known: ['listeners', 'clusters'] }, 'static_resources');
  const listeners: EnvoyListener[] = [];
  const clusters: EnvoyCluster[] = [];
  if (f === undefined) return { listeners, clusters };
  const l = need(f, 'listeners', slot, ctx);
  for (const [i, item] of ((l && list(slotOf(l), ctx)) ?? []).entries()) {
    const read = readListener(item, ctx, i);
    if (read !== undefined) listeners.push(read);
  }
  const c = need(f, 'clusters', slot, ctx);
  for (const item of (c && list(slotOf(c), ctx)) ?? []) {
    const read = readCluster(item, ctx);
    if (read !== undefined) clusters.push(read);
  }
  return { listeners, clusters };
}

/** Clusters by name (a name given twice is refused), routes checked against them. */
function link(
  listeners: EnvoyListener[],
  clusters: EnvoyCluster[],
  ctx: EnvoyContext,
  admin: Address,
) {
  const byName = new Map<string, EnvoyCluster>();
  for (const c of clusters) {
    const name = c.upstream.name;
    const first = byName.get(name);
    if (first !== undefined)
      ctx.src.report(
        c.slot.place,
        c.slot.path,
        `cluster '${name}' is defined twice (first on line ${ctx.src.lineOf(first.slot.place)})`,
      );
    else byName.set(name, c);
  }
  const bound = new Map<string, Slot>([
    [formatAddress(admin), { node: null, place: {}, path: 'admin' }],
  ]);
  const servers = listeners.map((l) => {
    const key = formatAddress(l.block.listen[0]);
    const other = bound.get(key);
    if (other !== undefined)
      ctx.src.report(
        l.addressSlot.place,
        l.addressSlot.path,
        `${key} is already used by ${other.path}`,
      );
    else bound.set(key, l.addressSlot);
    const locations = l.routes.map((r) => {
      const cluster = byName.get(r.location.proxy.upstream);
      if (cluster === undefined) {
        ctx.src.report(
          r.clusterSlot.place,
          r.clusterSlot.path,
          `no cluster named '${r.location.proxy.upstream}' in static_resources.clusters`,
        );
        return r.location;
      }
      return {
        ...r.location,
        proxy: { ...r.location.proxy, connectTimeoutMs: cluster.connectTimeoutMs },
      };
    });
    return { ...l.block, locations };
  });
  const upstreams: UpstreamConfig[] = [...byName.values()].map((c) => c.upstream);
  return { servers, upstreams };
}

/** Reads an envoy.yaml; throws one ConfigError listing every issue. Warnings ride on the config. */
export function parseEnvoy(text: string, file: string, env: NodeJS.ProcessEnv): LegateConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const ctx: EnvoyContext = {
    src: new ConfigSource(file, text, doc, lines),
    warn: new ConfigSource(file, text, doc, lines),
  };
  const root = ctx.src.deref(doc.contents);
  const top = fields(
    { node: root, place: root ?? {}, path: '' },
    ctx,
    { known: ['static_resources', 'admin'] },
    'an Envoy bootstrap',
  );
  let adminListen = DEFAULT_ADMIN_LISTEN;
  const adminE = top?.get('admin');
  if (adminE !== undefined) adminListen = readAdmin(slotOf(adminE), ctx) ?? adminListen;
  const sr = top?.get('static_resources');
  const { listeners, clusters } =
    sr === undefined ? { listeners: [], clusters: [] } : readResources(slotOf(sr), ctx);
  const { servers, upstreams } = link(listeners, clusters, ctx, adminListen);
  const envIssues: ConfigIssue[] = [];
  const settings = applyEnvOverrides(
    {
      workers: null,
      admin: { listen: adminListen, engine: 'auto' },
      log: { level: DEFAULT_LOG_LEVEL },
      drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS,
      redis: [],
      tcp: EMPTY_TCP,
      http: { engine: 'auto', upstreams, servers, splitClients: [] },
    },
    env,
    {
      reportElsewhere: (path, message) =>
        envIssues.push({ file, line: 0, column: 0, path, message }),
    },
  );
  const issues = [...ctx.src.issues, ...envIssues];
  if (issues.length > 0) throw new ConfigError(issues.sort(byPlace));
  return { file, dialect: 'envoy', ...settings, warnings: [...ctx.warn.issues].sort(byPlace) };
}

function byPlace(a: ConfigIssue, b: ConfigIssue): number {
  const rank = (i: ConfigIssue) => (i.line === 0 ? Number.POSITIVE_INFINITY : i.line);
  return rank(a) - rank(b) || a.column - b.column;
}
