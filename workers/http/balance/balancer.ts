/**
 * The balancer an upstream's config asks for, over its peers. The data plane builds one per
 * upstream per worker, on the shared peer table the engine allocated (http-peers-memory.ts).
 */
import type { HttpServerSpec, UpstreamConfig } from '../../../engine/config/http-types.ts';
import type { HttpPeerHealth } from '../../../engine/shared/http-peers-memory.ts';
import { Hash } from './hash.ts';
import { HashConsistent } from './hash-consistent.ts';
import { IpHash } from './ip-hash.ts';
import { LeastConn } from './least-conn.ts';
import { type Balancer, PeerSet, type PeerSpec } from './peers.ts';
import { RandomBalancer, type RandomInt } from './random.ts';
import { RoundRobin } from './round-robin.ts';

/** `ip:port` as nginx names a peer; `[v6]:port` for IPv6. */
export function peerAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function peerSpec(server: HttpServerSpec, address?: string): PeerSpec {
  return {
    name: server.name,
    address: address ?? peerAddress(server.host, server.port),
    weight: server.weight,
    maxFails: server.maxFails,
    failTimeoutMs: server.failTimeoutMs,
    maxConns: server.maxConns,
    down: server.down,
    backup: server.backup,
  };
}

export function createBalancer(
  upstream: UpstreamConfig,
  health: HttpPeerHealth,
  base: number,
  random?: RandomInt,
): Balancer {
  const peers = new PeerSet(
    upstream.servers.map((s) => peerSpec(s)),
    health,
    base,
  );
  switch (upstream.balancer) {
    case 'round_robin':
      return new RoundRobin(peers);
    case 'ip_hash':
      return new IpHash(peers);
    case 'hash':
      return new Hash(peers);
    case 'hash_consistent':
      return new HashConsistent(peers);
    case 'least_conn':
      return new LeastConn(peers);
    case 'random':
      return new RandomBalancer(peers, upstream.randomTwo, random);
  }
}
