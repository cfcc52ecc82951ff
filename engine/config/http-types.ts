/**
 * The HTTP roles' config model (the A/B splitter now, the circuit breaker next): what an
 * `http:` section of a legate.yml and an nginx.conf both become. Times are milliseconds.
 * Defaults named here are nginx's (facts/nginx.md); a dialect fills every field.
 */
import type { Address } from './types.ts';

export const HTTP_BALANCERS = [
  'round_robin',
  'ip_hash',
  'hash',
  'hash_consistent',
  'least_conn',
  'random',
] as const;
export type HttpBalancer = (typeof HTTP_BALANCERS)[number];

export interface HttpServerSpec {
  /** The server string as written (`web-prod:80`): nginx's consistent hash hashes this text. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Default 1. */
  readonly weight: number;
  /** Default 1; 0 disables failure accounting. */
  readonly maxFails: number;
  /** Default 10000. */
  readonly failTimeoutMs: number;
  /** 0: unlimited. */
  readonly maxConns: number;
  readonly down: boolean;
  readonly backup: boolean;
  /** `file:line`, for messages. */
  readonly source: string;
}

/** nginx 1.29.6's `sticky cookie NAME [expires=] [domain=] [path=] [secure] [httponly] [samesite=]`. */
export interface StickyCookie {
  readonly name: string;
  /** Seconds, or 'max'; null: a session cookie. */
  readonly expires: number | 'max' | null;
  readonly domain: string | null;
  readonly path: string | null;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: 'strict' | 'lax' | 'none' | null;
}

export interface UpstreamConfig {
  readonly name: string;
  readonly balancer: HttpBalancer;
  /** For `hash` / `hash_consistent`: the key as written, with nginx variables (`$request_uri`). */
  readonly hashKey: string | null;
  /** For `random two [least_conn]`. */
  readonly randomTwo: boolean;
  readonly sticky: StickyCookie | null;
  readonly servers: readonly HttpServerSpec[];
  /** Idle keep-alive connections kept per worker (nginx `keepalive N`); null: nginx's default of none. */
  readonly keepalive: number | null;
}

/** A `proxy_set_header NAME VALUE`: VALUE may hold nginx variables; an empty value removes the header. */
export interface HeaderSetting {
  readonly name: string;
  readonly value: string;
}

export interface ProxySettings {
  /** `proxy_pass http://UPSTREAM[URI]`: the upstream's name and the URI part (null: pass the client's URI). */
  readonly upstream: string;
  readonly uri: string | null;
  readonly setHeaders: readonly HeaderSetting[];
  /** '1.0' (nginx's default) or '1.1'. */
  readonly httpVersion: '1.0' | '1.1';
  readonly connectTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** `proxy_next_upstream`: error, timeout, invalid_header, http_500, …, non_idempotent, off. */
  readonly nextUpstream: readonly string[];
  /** 0: no limit on tries. */
  readonly nextUpstreamTries: number;
}

export interface LocationConfig {
  /** Prefix match (nginx `location /prefix`); `=` exact matches have `exact`. */
  readonly prefix: string;
  readonly exact: boolean;
  readonly proxy: ProxySettings;
  /** Bytes, 0: no limit; the server's unless the location sets its own (nginx inherits it so). */
  readonly clientMaxBodySize: number;
  /** The server's unless the location sets its own. */
  readonly clientBodyTimeoutMs: number;
}

/** `set_real_ip_from` / `real_ip_header` / `real_ip_recursive`. */
export interface RealIpConfig {
  /** CIDRs, as written (`10.0.0.0/8`, `::1`, …). */
  readonly trusted: readonly string[];
  /** Header name, lower case, or 'proxy_protocol'. */
  readonly header: string;
  readonly recursive: boolean;
}

/** `split_clients "STRING" $VAR { 10% a; * b; }`. */
export interface SplitClientsConfig {
  readonly source: string;
  readonly variable: string;
  readonly parts: readonly { readonly percent: number | '*'; readonly value: string }[];
}

export interface HttpServerBlockConfig {
  /** The first `server_name` ('' when none): for messages and stats. */
  readonly name: string;
  /** Every `server_name`, to choose among servers sharing a listen address by Host. */
  readonly serverNames: readonly string[];
  /** `listen … default_server`: takes requests whose Host no server names (else the first server). */
  readonly defaultServer: boolean;
  readonly listen: readonly Address[];
  readonly locations: readonly LocationConfig[];
  /** Bytes; 0: no limit (nginx default 1 MiB). */
  readonly clientMaxBodySize: number;
  readonly clientHeaderTimeoutMs: number;
  readonly clientBodyTimeoutMs: number;
  readonly realIp: RealIpConfig | null;
  /** Idle client keep-alive connections are closed after this (nginx `keepalive_timeout`, 75 s); 0: no keep-alive. */
  readonly keepaliveTimeoutMs: number;
}

export interface HttpConfig {
  /** auto: uWebSockets.js where it loads, else node:http. */
  readonly engine: 'auto' | 'uws' | 'node';
  readonly upstreams: readonly UpstreamConfig[];
  readonly servers: readonly HttpServerBlockConfig[];
  readonly splitClients: readonly SplitClientsConfig[];
}

export const EMPTY_HTTP: HttpConfig = {
  engine: 'auto',
  upstreams: [],
  servers: [],
  splitClients: [],
};
