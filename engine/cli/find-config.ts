import { existsSync } from 'node:fs';
import { UsageError } from '../errors.ts';

/**
 * Where the seed's pods mount each anchor's config. legate's image sets LEGATE_CONFIG_PATHS to
 * these, so swapping an anchor's image for legate's keeps the ConfigMap and its mount. On a
 * host, where /etc/nginx/nginx.conf may be nginx's own, nothing is searched unless asked.
 */
export const ANCHOR_CONFIG_PATHS: readonly string[] = [
  '/etc/legate/legate.yml',
  '/etc/nutcracker/nutcracker.yml',
  '/etc/nutcracker/nutcracker.yaml',
  '/usr/local/etc/haproxy/haproxy.cfg',
  '/etc/nginx/conf.d/nginx.conf',
  '/etc/nginx/conf.d/default.conf',
  '/etc/envoy/envoy.yaml',
];

/** -c, else LEGATE_CONFIG, else the first existing file of LEGATE_CONFIG_PATHS (colon-separated). */
export function findConfig(given: string | undefined, env: NodeJS.ProcessEnv): string {
  if (given) return given;
  const paths = (env.LEGATE_CONFIG_PATHS ?? '').split(':').filter((p) => p !== '');
  const found = paths.find((path) => existsSync(path));
  if (found !== undefined) return found;
  const searched =
    paths.length > 0 ? ` (none of LEGATE_CONFIG_PATHS exists: ${paths.join(', ')})` : '';
  throw new UsageError(`no configuration file: give -c FILE or set LEGATE_CONFIG${searched}`);
}
