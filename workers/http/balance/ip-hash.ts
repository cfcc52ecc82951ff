/**
 * nginx's ip_hash (ngx_http_upstream_ip_hash_module.c, 1.22): `hash = (hash * 113 + byte) % 6271`
 * over the key bytes, starting at 89; the peer is found by walking `hash % total_weight` over
 * the weights (not the effective weights); a tried, down, failed or full peer makes the hash
 * go on from where it was; after 20 such tries, round robin.
 */

import { MAX_HASH_TRIES, PeerBalancer, type PeerSet, type PickState, stickyPeer } from './peers.ts';
import { roundRobinChoose } from './round-robin.ts';

/** The peer whose weight range holds `w` (0 ≤ w < total_weight). */
export function walkWeights(peers: PeerSet, w: number): number {
  const weight = peers.weight;
  let p = 0;
  while (w >= weight[p]) {
    w -= weight[p];
    p++;
  }
  return p;
}

export class IpHash extends PeerBalancer {
  override begin(state: PickState, key: Uint8Array, hint: number): void {
    state.reset(key, hint);
    state.hash = 89;
  }

  choose(state: PickState, now: number): number {
    const peers = this.peers;
    if (state.tries > MAX_HASH_TRIES || peers.single) return roundRobinChoose(peers, state, now);
    let p = stickyPeer(peers, state, 0, peers.primaries, now);
    let hash = state.hash;
    if (p < 0) {
      const key = state.key;
      for (;;) {
        for (let i = 0; i < key.length; i++) hash = (hash * 113 + key[i]) % 6271;
        p = walkWeights(peers, hash % peers.totalWeight);
        if (state.tried[p] === 0 && peers.usable(p, now)) break;
        if (++state.tries > MAX_HASH_TRIES) return roundRobinChoose(peers, state, now);
      }
    }
    state.hash = hash;
    return p;
  }
}
