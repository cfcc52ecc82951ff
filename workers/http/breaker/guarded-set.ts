import type { HttpConfig } from '../../../engine/config/http-types.ts';
import type { Logger } from '../../../engine/log.ts';
import { GuardedUpstream } from './guarded-upstream.ts';

/** Shared memory the main thread made for the guarded upstreams, by upstream name. */
export type GuardBuffers = Readonly<Record<string, SharedArrayBuffer>>;

/**
 * The guarded upstreams of a config in one worker, by name. An upstream's connect timeout is
 * the one of the first location that proxies to it: Envoy's is the cluster's, the same for every
 * route (unguarded pools keep one pool per distinct location timeout instead).
 * `worker`: this worker's number, whose shares of the breakers' counts it keeps.
 */
export function guardedUpstreams(
  config: HttpConfig,
  buffers: GuardBuffers | undefined,
  worker: number,
  log: Logger,
): Map<string, GuardedUpstream> {
  const out = new Map<string, GuardedUpstream>();
  for (const u of config.upstreams) {
    if (u.guard === undefined) continue;
    const loc = config.servers.flatMap((s) => s.locations).find((l) => l.proxy.upstream === u.name);
    const connectMs = loc?.proxy.connectTimeoutMs ?? 5000;
    out.set(u.name, new GuardedUpstream(u, u.guard, buffers?.[u.name], worker, connectMs, log));
  }
  return out;
}
