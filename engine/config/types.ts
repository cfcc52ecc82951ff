import type { HashName } from '../hash/types.ts';
import type { ConfigIssue } from './errors.ts';
import type { HttpConfig } from './http-types.ts';
import type { TcpConfig } from './tcp-types.ts';

export const HTTP_ENGINES = ['auto', 'uws', 'node'] as const;

export const DISTRIBUTIONS = ['ketama', 'modula', 'random'] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];

/** Where a pool listens or a server is reached: TCP host and port, or a unix socket path. */
export type Address =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | {
      readonly kind: 'unix';
      readonly path: string;
      /** Permissions to give a listening socket (`/tmp/x.sock 0666`); absent: the umask decides. */
      readonly mode?: number;
    };

/** One `servers:` line of a pool, as twemproxy reads `host:port:weight [name]` or `/path:weight [name]`. */
export interface ServerSpec {
  readonly address: Address;
  readonly weight: number;
  /** The name ketama hashes and `legate locate` prints: the given name, else `host:port` (`host` alone for port 11211), else the socket path. */
  readonly name: string;
  /** The line as written, for messages. */
  readonly source: string;
}

/** A Redis pool with twemproxy's keys (snake_case in YAML, camelCase here) and their defaults applied. */
export interface RedisPoolConfig {
  readonly name: string;
  readonly listen: Address;
  readonly hash: HashName;
  /** Two bytes, or null when unset. */
  readonly hashTag: string | null;
  readonly distribution: Distribution;
  /** Per-request timeout toward a shard in ms; null: wait forever (twemproxy's default). */
  readonly timeoutMs: number | null;
  readonly backlog: number;
  readonly preconnect: boolean;
  readonly redis: boolean;
  readonly redisAuth: string | null;
  readonly redisDb: number;
  readonly serverConnections: number;
  readonly autoEjectHosts: boolean;
  readonly serverRetryTimeoutMs: number;
  readonly serverFailureLimit: number;
  /** Maximum client connections; null: no limit. */
  readonly clientConnections: number | null;
  readonly tcpKeepalive: boolean;
  readonly reuseport: boolean;
  /** legate: the largest request a client may send, in bytes; larger gets a protocol error. */
  readonly maxRequestBytes: number;
  /** legate: replies a client may be owed before legate stops reading its requests. */
  readonly clientMaxPending: number;
  /** legate: bytes queued toward a slow client before legate stops reading its requests. */
  readonly clientMaxOutputBytes: number;
  /** legate: requests in flight on one shard connection before new ones get `-ERR legate overloaded`. */
  readonly serverMaxInflight: number;
  /** Sorted as twemproxy sorts them: by name, shorter first, then bytewise. Index = server id in the ring. */
  readonly servers: readonly ServerSpec[];
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LegateConfig {
  /** The file it came from, as given. */
  readonly file: string;
  readonly dialect: 'nutcracker' | 'legate' | 'haproxy' | 'nginx' | 'envoy';
  /** Data-plane worker threads; null: one per available core. */
  readonly workers: number | null;
  readonly admin: {
    readonly listen: Address;
    /** auto: uWebSockets.js where it loads, else node:http. */
    readonly engine: 'auto' | 'uws' | 'node';
  };
  readonly log: { readonly level: LogLevel };
  /** On SIGTERM, how long requests in flight may take to finish before clients are closed. */
  readonly drainTimeoutMs: number;
  readonly redis: readonly RedisPoolConfig[];
  /** The service broker's services and backends (empty when the file has none). */
  readonly tcp: TcpConfig;
  /** The HTTP roles' upstreams and servers (empty when the file has none). */
  readonly http: HttpConfig;
  /**
   * What the file says that legate accepts but does not act on (HAProxy's own tuning, like
   * `log` or `nbthread`), placed like errors; `legate -t` prints them and a start logs them.
   */
  readonly warnings: readonly ConfigIssue[];
}
