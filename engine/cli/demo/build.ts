// What this build of legate can serve: the demo starts a pod only when its ambassador is built,
// and says so otherwise, rather than claim a pod that would not answer.
import { ROLES } from '../../../workers/role.ts';
import { parseConfig } from '../../config/load.ts';

/** Why the HTTP pods cannot run in this build, or null when the workers host the HTTP role. */
export function httpRoleMissing(): string | null {
  return ROLES.some((r) => r.name === 'http')
    ? null
    : 'not available in this build (its workers have no HTTP data plane yet)';
}

/** Why the upstream keys a pod needs (`breaker:`) are not read by this build, or null when they are. */
export function upstreamKeysMissing(keys: Record<string, unknown>): string | null {
  // drain_timeout makes it a legate.yml whatever the dialect rule (a file of only pools is nutcracker's).
  const probe = {
    drain_timeout: 1000,
    http: {
      upstreams: { probe: { servers: ['127.0.0.1:1'], ...keys } },
      servers: [{ listen: '127.0.0.1:1', locations: [{ path: '/', upstream: 'probe' }] }],
    },
  };
  try {
    parseConfig(JSON.stringify(probe), '(legate demo)', {});
    return null;
  } catch {
    return `not available in this build (its config reads no ${Object.keys(keys)
      .map((k) => `'${k}:'`)
      .join(', ')} on an upstream)`;
  }
}
