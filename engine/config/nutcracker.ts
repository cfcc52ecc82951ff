import { EMPTY_HTTP } from './http-types.ts';
import {
  DEFAULT_ADMIN_LISTEN,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_LOG_LEVEL,
  type Settings,
} from './native.ts';
import { checkListenClashes, type ListenClaim, readPools } from './pool.ts';
import type { Entry } from './read.ts';
import type { ConfigSource } from './source.ts';
import { EMPTY_TCP } from './tcp-types.ts';

/**
 * A twemproxy nutcracker.yml: every top-level key is a pool; the rest takes legate's defaults.
 * The admin address is not checked against the pools here: such a file cannot set it, so a
 * clash is for the command line to settle, not a reason to refuse a file nutcracker accepts.
 */
export function readNutcracker(root: readonly Entry[], src: ConfigSource): Settings {
  const claims: ListenClaim[] = [];
  const redis = readPools(root, src, claims);
  checkListenClashes(claims, src);
  return {
    workers: null,
    admin: { listen: DEFAULT_ADMIN_LISTEN, engine: 'auto' },
    log: { level: DEFAULT_LOG_LEVEL },
    drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS,
    redis,
    tcp: EMPTY_TCP,
    http: EMPTY_HTTP,
  };
}
