// Building balancers over plain server lists, for the balancer unit and differential tests.
import type {
  HttpBalancer,
  HttpServerSpec,
  UpstreamConfig,
} from '../../engine/config/http-types.ts';
import { allocateHttpPeers, HttpPeerHealth } from '../../engine/shared/http-peers-memory.ts';
import { createBalancer } from '../../workers/http/balance/balancer.ts';
import type { Balancer } from '../../workers/http/balance/peers.ts';

export interface ServerLine {
  readonly name: string;
  readonly weight?: number;
  readonly down?: boolean;
  readonly backup?: boolean;
  readonly maxFails?: number;
  readonly failTimeoutMs?: number;
  readonly maxConns?: number;
}

export function serverSpecs(lines: readonly ServerLine[]): HttpServerSpec[] {
  return lines.map((l, i) => {
    const colon = l.name.lastIndexOf(':');
    return {
      name: l.name,
      host: colon > 0 ? l.name.slice(0, colon) : l.name,
      port: colon > 0 ? Number(l.name.slice(colon + 1)) : 80,
      weight: l.weight ?? 1,
      maxFails: l.maxFails ?? 1,
      failTimeoutMs: l.failTimeoutMs ?? 10000,
      maxConns: l.maxConns ?? 0,
      down: l.down ?? false,
      backup: l.backup ?? false,
      source: `test:${i + 1}`,
    };
  });
}

export function upstreamOf(
  balancer: HttpBalancer,
  lines: readonly ServerLine[],
  extra: Partial<UpstreamConfig> = {},
): UpstreamConfig {
  return {
    name: 'backend',
    balancer,
    hashKey: null,
    randomTwo: false,
    sticky: null,
    servers: serverSpecs(lines),
    keepalive: null,
    ...extra,
  };
}

/** A balancer on its own fresh shared table. */
export function balancerOf(
  balancer: HttpBalancer,
  lines: readonly ServerLine[],
  extra: Partial<UpstreamConfig> = {},
  random?: (n: number) => number,
): Balancer {
  const health = new HttpPeerHealth(allocateHttpPeers(lines.length, 1));
  return createBalancer(upstreamOf(balancer, lines, extra), health, 0, random);
}
