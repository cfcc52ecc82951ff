/**
 * What a proxy section has said so far, before it becomes the engine's TcpConfig (build.ts).
 * A `defaults` section is one of these too; a proxy starts as a copy of its defaults
 * (`copyProxy`), which is how HAProxy inherits. Values are HAProxy's defaults until set.
 */

import type { CheckStep, HealthCheckKind, TcpBalance } from '../../tcp-types.ts';
import type { Address } from '../../types.ts';
import type { Statement } from './report.ts';

/** Settings a `server` line takes from `default-server`, then from its own words. */
export interface ServerParams {
  check: boolean;
  interMs: number;
  fall: number;
  rise: number;
  backup: boolean;
  weight: number;
  maxconn: number | null;
  resolvers: string | null;
  /** `init-addr` methods; null: HAProxy's default `last,libc`. */
  initAddr: readonly string[] | null;
  shutdownSessions: boolean;
  sendProxy: 'v1' | 'v2' | null;
  disabled: boolean;
  /** `id` (a server line only): orders `balance first`. */
  id: number | null;
}

export const DEFAULT_SERVER: ServerParams = {
  check: false,
  interMs: 2000,
  fall: 3,
  rise: 2,
  backup: false,
  weight: 1,
  maxconn: null,
  resolvers: null,
  initAddr: null,
  shutdownSessions: false,
  sendProxy: null,
  disabled: false,
  id: null,
};

export interface BackendRef {
  readonly name: string;
  readonly stmt: Statement;
}

export interface ServerLine {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly params: ServerParams;
  readonly stmt: Statement;
}

export interface Timeouts {
  connect: number | null;
  client: number | null;
  server: number | null;
  queue: number | null;
  check: number | null;
  tunnel: number | null;
  clientFin: number | null;
}

export type ProxyKind = 'defaults' | 'frontend' | 'backend' | 'listen';

export interface ProxyState {
  readonly kind: ProxyKind;
  readonly name: string;
  readonly stmt: Statement;
  balance: TcpBalance;
  /** A `hash-type` line other than plain map-based (HAProxy's default); null: map-based. */
  hashType: Statement | null;
  maxconn: number | null;
  retries: number;
  redispatch: boolean;
  allBackups: boolean;
  timeouts: Timeouts;
  /** From `option pgsql-check|redis-check|mysql-check|tcp-check`; null: none given (TCP connect). */
  check: HealthCheckKind | null;
  /** `tcp-check` rules; used only with `option tcp-check`. */
  tcpCheck: CheckStep[];
  /** The rules came from a defaults section: the proxy's first own rule replaces them. */
  tcpCheckInherited: boolean;
  defaultServer: ServerParams;
  /** `default_backend` (defaults pass it on to frontends). */
  defaultBackend: BackendRef | null;
  /** The first unconditional `use_backend`: it matches every session, so it wins over default_backend. */
  useBackend: BackendRef | null;
  binds: { readonly address: Address; readonly stmt: Statement }[];
  /** A bind line was written, even if its address was refused (so "no bind" is not said too). */
  sawBind: boolean;
  servers: ServerLine[];
}

export function newProxy(kind: ProxyKind, name: string, stmt: Statement): ProxyState {
  return {
    kind,
    name,
    stmt,
    balance: 'roundrobin',
    hashType: null,
    maxconn: null,
    retries: 3,
    redispatch: false,
    allBackups: false,
    timeouts: {
      connect: null,
      client: null,
      server: null,
      queue: null,
      check: null,
      tunnel: null,
      clientFin: null,
    },
    check: null,
    tcpCheck: [],
    tcpCheckInherited: false,
    defaultServer: { ...DEFAULT_SERVER },
    defaultBackend: null,
    useBackend: null,
    binds: [],
    sawBind: false,
    servers: [],
  };
}

/** A new section starting from `from`'s settings; what is its own (binds, servers) starts empty. */
export function copyProxy(
  from: ProxyState,
  kind: ProxyKind,
  name: string,
  stmt: Statement,
): ProxyState {
  return {
    ...from,
    kind,
    name,
    stmt,
    timeouts: { ...from.timeouts },
    tcpCheck: [...from.tcpCheck],
    tcpCheckInherited: from.tcpCheck.length > 0,
    defaultServer: { ...from.defaultServer },
    useBackend: null,
    binds: [],
    sawBind: false,
    servers: [],
  };
}

export interface ResolversState {
  readonly name: string;
  readonly stmt: Statement;
  nameservers: { host: string; port: number }[];
  parseResolvConf: boolean;
  resolveMs: number;
  retryMs: number;
  retries: number;
  holdValidMs: number;
}
