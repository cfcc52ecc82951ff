/**
 * The service-broker (TCP) role's config model: what a `tcp:` section of a legate.yml and an
 * haproxy.cfg (`mode tcp`) both become. Times are milliseconds; null means "not set" with the
 * meaning each field's comment gives (HAProxy's: unset = infinite, unless said otherwise).
 * The environment profile (LEGATE_ENV) and `.if` blocks are settled when the file is read:
 * what reaches the engine is the one server list in force.
 */
import type { Address } from './types.ts';

export const TCP_BALANCES = ['roundrobin', 'leastconn', 'first', 'source'] as const;
export type TcpBalance = (typeof TCP_BALANCES)[number];

/** One step of a send/expect check (HAProxy `tcp-check`). */
export type CheckStep =
  | { readonly op: 'connect'; readonly port: number | null }
  | { readonly op: 'send'; readonly data: Uint8Array }
  | {
      readonly op: 'expect';
      /** `expect !` : the check passes when the pattern is NOT seen. */
      readonly negate: boolean;
      /** string: bytes as text; rstring: a regex on the text; binary: hex bytes; rbinary: regex on hex. */
      readonly match: 'string' | 'rstring' | 'binary' | 'rbinary';
      readonly pattern: string;
    };

/** What a health check sends and expects. `tcp`: connect only (HAProxy's `check` alone). */
export type HealthCheckKind =
  | { readonly kind: 'tcp' }
  | {
      readonly kind: 'postgres';
      readonly user: string;
      /** Database named in the StartupMessage; null: PostgreSQL's default (the user's name). */
      readonly database: string | null;
      /** Only with `requirePrimary`: to log in and run `SELECT pg_is_in_recovery()`. */
      readonly password: string | null;
      /** prefer: SSLRequest first, plaintext if refused; require: fail unless TLS; disable: never ask (HAProxy's pgsql-check). */
      readonly ssl: 'prefer' | 'require' | 'disable';
      /** Pass only when the server is a primary (`pg_is_in_recovery()` is false); needs login. */
      readonly requirePrimary: boolean;
    }
  | { readonly kind: 'redis' }
  | { readonly kind: 'mysql'; readonly user: string | null }
  | { readonly kind: 'send-expect'; readonly steps: readonly CheckStep[] };

export interface CheckTiming {
  /** Between checks (HAProxy `inter`, default 2000). */
  readonly intervalMs: number;
  /** Consecutive failures that mark a server DOWN (default 3). */
  readonly fall: number;
  /** Consecutive passes that mark it UP again (default 2). */
  readonly rise: number;
  /** Bound on one check; null: `intervalMs` bounds it (HAProxy without `timeout check`). */
  readonly timeoutMs: number | null;
}

export interface TcpServerSpec {
  /** The server's name (HAProxy `server NAME …`); unique within its backend. */
  readonly name: string;
  /** A host name or literal address, as written (after variable expansion). */
  readonly host: string;
  readonly port: number;
  /** 0–256 (HAProxy); 0 takes no new sessions by balancing. Default 1. */
  readonly weight: number;
  readonly backup: boolean;
  /** Sessions at once; the excess waits in this server's queue. null: no limit. */
  readonly maxconn: number | null;
  /** Health checks on for this server (`check`). */
  readonly check: boolean;
  readonly timing: CheckTiming;
  /** PROXY protocol header toward the server. */
  readonly sendProxy: 'v1' | 'v2' | null;
  /** Re-resolve `host` while running (HAProxy `resolvers ID`); false: resolved once at start. */
  readonly resolve: boolean;
  /** Start even if `host` does not resolve (HAProxy `init-addr …,none`); the server waits in MAINT. */
  readonly initAddrNone: boolean;
  /** `file:line` of the definition, for messages. */
  readonly source: string;
  /** HAProxy's server `id`, the order of `balance first`; null: numbered in declaration order. */
  readonly id: number | null;
}

export interface TcpBackendConfig {
  readonly name: string;
  readonly balance: TcpBalance;
  readonly servers: readonly TcpServerSpec[];
  /** The check servers with `check` run; HAProxy's default is `tcp`. */
  readonly check: HealthCheckKind;
  /** Speak enough PostgreSQL to route CancelRequests (on with a postgres check, or set natively). */
  readonly postgres: boolean;
  readonly connectTimeoutMs: number;
  /** Inactivity toward the server; null: none. */
  readonly serverTimeoutMs: number | null;
  /** Replaces client and server inactivity timeouts once connected (HAProxy `timeout tunnel`). */
  readonly tunnelTimeoutMs: number | null;
  /** How long a client may wait in a server's queue; null: `connectTimeoutMs` (HAProxy). */
  readonly queueTimeoutMs: number | null;
  /** Connection attempts after the first (HAProxy `retries`, default 3). */
  readonly retries: number;
  /** The last retry goes to another server (HAProxy `option redispatch`). */
  readonly redispatch: boolean;
  /** Close the sessions of a server marked DOWN (`on-marked-down shutdown-sessions`). */
  readonly shutdownSessionsOnDown: boolean;
  /** Every backup serves when no active server is up (`option allbackups`); else the first only. */
  readonly allBackups: boolean;
  /** Re-resolution of servers with `resolve`; null: none. */
  readonly dns: DnsConfig | null;
}

export interface DnsConfig {
  /** Empty: the system resolver (`parse-resolv-conf` or the native default). */
  readonly nameservers: readonly { readonly host: string; readonly port: number }[];
  /** How often names are re-queried (HAProxy `timeout resolve`, default 1000). */
  readonly intervalMs: number;
  /** Keep the last good address this long while answers fail (HAProxy `hold valid`, 10000). */
  readonly holdValidMs: number;
  readonly retries: number;
  readonly retryMs: number;
}

/** A listening service (HAProxy frontend or listen section) and the backend it sends to. */
export interface TcpServiceConfig {
  readonly name: string;
  readonly listen: readonly Address[];
  /** Sessions at once on this service; past it, new connections wait in the kernel's backlog. */
  readonly maxconn: number | null;
  /** Name of a backend in `TcpConfig.backends`. */
  readonly backend: string;
  /** Inactivity toward the client; null: none. */
  readonly clientTimeoutMs: number | null;
  /** Once one side has closed its sending half; null: `clientTimeoutMs`. */
  readonly clientFinTimeoutMs: number | null;
}

export interface TcpConfig {
  readonly services: readonly TcpServiceConfig[];
  readonly backends: readonly TcpBackendConfig[];
}

export const EMPTY_TCP: TcpConfig = { services: [], backends: [] };
