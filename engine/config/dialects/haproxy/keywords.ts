/**
 * How legate treats the keywords of HAProxy's proxy sections: the ones it reads and where
 * (HAProxy's capability table, configuration.txt 4.1: D defaults, F frontend, B backend;
 * listen is F and B), the ones that only tune HAProxy (accepted, warned), the ones that only
 * matter in mode http (accepted, warned: mode tcp ignores them too) and the ones refused.
 */

export type Capability = 'D' | 'F' | 'B';

export const READ: Readonly<Record<string, readonly Capability[]>> = {
  mode: ['D', 'F', 'B'],
  bind: ['F'],
  default_backend: ['D', 'F'],
  use_backend: ['F'],
  maxconn: ['D', 'F'],
  balance: ['D', 'B'],
  'hash-type': ['D', 'B'],
  server: ['B'],
  'default-server': ['D', 'B'],
  retries: ['D', 'B'],
  'tcp-check': ['D', 'B'],
  'timeout connect': ['D', 'B'],
  'timeout server': ['D', 'B'],
  'timeout queue': ['D', 'B'],
  'timeout check': ['D', 'B'],
  'timeout tunnel': ['D', 'B'],
  'timeout client': ['D', 'F'],
  'timeout client-fin': ['D', 'F'],
  'option redispatch': ['D', 'B'],
  'option allbackups': ['D', 'B'],
  'option pgsql-check': ['D', 'B'],
  'option redis-check': ['D', 'B'],
  'option mysql-check': ['D', 'B'],
  'option tcp-check': ['D', 'B'],
  enabled: ['D', 'F', 'B'],
};

/** Keywords (first word, or first two for option/timeout) that change nothing legate does. */
export const TUNING: ReadonlySet<string> = new Set([
  'log',
  'log-format',
  'log-format-sd',
  'error-log-format',
  'log-tag',
  'description',
  'id',
  'fullconn',
  'backlog',
  'bind-process',
  'grace',
  'hash-balance-factor',
  'email-alert',
  'external-check',
  'load-server-state-from-file',
  'server-state-file-name',
  'clitcpka-cnt',
  'clitcpka-idle',
  'clitcpka-intvl',
  'srvtcpka-cnt',
  'srvtcpka-idle',
  'srvtcpka-intvl',
  'option tcplog',
  'option dontlognull',
  'option logasap',
  'option log-health-checks',
  'option log-separate-errors',
  'option tcpka',
  'option clitcpka',
  'option srvtcpka',
  'option splice-auto',
  'option splice-request',
  'option splice-response',
  'option socket-stats',
  'option contstats',
  'option independent-streams',
  'option nolinger',
  'option dontlog-normal',
  'option checkcache',
]);

/** Keywords that only act in mode http: HAProxy ignores them in mode tcp, and so does legate. */
export const HTTP_ONLY: ReadonlySet<string> = new Set([
  'option httplog',
  'option forwardfor',
  'option http-server-close',
  'option httpclose',
  'option http-keep-alive',
  'option http-buffer-request',
  'option http-pretend-keepalive',
  'option http-use-htx',
  'option abortonclose',
  'option originalto',
  'option http-no-delay',
  'timeout http-request',
  'timeout http-keep-alive',
  'timeout tarpit',
]);

/** Refused, with what to do instead. */
export const REFUSED: Readonly<Record<string, string>> = {
  acl: "legate's broker has no ACLs; choose between backends with .if/.else on an environment variable",
  'tcp-request': 'legate has no tcp-request rules; remove them',
  'tcp-response': 'legate has no tcp-response rules; remove them',
  'stick-table': 'legate has no stick tables; for a sticky choice use balance source',
  stick: 'legate has no stick tables; for a sticky choice use balance source',
  'server-template': 'write each server on its own server line',
  dispatch: 'write a server line',
  source: 'legate does not choose a source address; remove it',
  disabled: 'remove the section instead of disabling it',
  'rate-limit': 'legate does not limit the session rate; use maxconn',
  persist: 'legate has no persistence rules; remove it',
  'force-persist': 'legate has no persistence rules; remove it',
  'ignore-persist': 'legate has no persistence rules; remove it',
  'option transparent': 'legate has no transparent proxying; write server lines',
  'option persist': 'legate has no persistence rules; remove it',
  'option prefer-last-server': 'legate does not prefer the last server; remove it',
  'option external-check': "legate runs no external check programs; use 'option tcp-check'",
  'timeout server-fin':
    "legate has no separate timeout for a half-closed server side; use 'timeout server'",
  'timeout connect-fin':
    "legate has no separate timeout for a half-closed side; use 'timeout client-fin'",
  filter: 'legate has no filters; remove it',
  'use-server': "legate routes a service to its backend's balancing; remove use-server",
  'retry-on': "'retry-on' is for mode http; legate retries failed connections ('retries')",
};

/** Prefixes of keywords that exist only in mode http. */
export const HTTP_PREFIXES = [
  'http-',
  'capture',
  'cookie',
  'compression',
  'errorfile',
  'errorloc',
  'monitor',
  'redirect',
  'stats',
  'unique-id',
  'reqadd',
  'rspadd',
  'declare',
];
