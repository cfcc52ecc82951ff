import { stringify } from 'yaml';
import type { ConfigPart } from './pod.ts';

/** Ctrl-C should end the demo at once: open sessions get this long to finish. */
export const DEMO_DRAIN_TIMEOUT = '2s';

/** The one legate.yml the demo serves: every pod's part under redis:, tcp: and http:, with the admin address. */
export function demoConfigText(parts: readonly ConfigPart[], adminPort: number): string {
  const redis: Record<string, unknown> = {};
  const services: Record<string, unknown> = {};
  const upstreams: Record<string, unknown> = {};
  const servers: Record<string, unknown>[] = [];
  for (const part of parts) {
    Object.assign(redis, part.redis);
    Object.assign(services, part.tcp?.services);
    Object.assign(upstreams, part.http?.upstreams);
    servers.push(...(part.http?.servers ?? []));
  }
  const doc: Record<string, unknown> = {
    admin: { listen: `127.0.0.1:${adminPort}` },
    drain_timeout: DEMO_DRAIN_TIMEOUT,
  };
  if (Object.keys(redis).length > 0) doc.redis = redis;
  if (Object.keys(services).length > 0) doc.tcp = { services };
  if (servers.length > 0) doc.http = { upstreams, servers };
  return `# legate demo: the seed's four ambassadors in one process\n${stringify(doc)}`;
}
