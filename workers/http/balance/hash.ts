/**
 * nginx's `hash KEY` (ngx_http_upstream_get_hash_peer, 1.22), compatible with
 * Cache::Memcached: each try adds `(crc32([REHASH] KEY) >> 16) & 0x7fff` to the running sum,
 * REHASH being the try number in decimal (left out on the first), and walks the weights at
 * `sum % total_weight`. An empty key, a single peer or more than 20 tries: round robin.
 */
import { CRC32_INIT, crc32Final, crc32Update } from '../../../engine/hash/crc32.ts';
import { walkWeights } from './ip-hash.ts';
import { MAX_HASH_TRIES, PeerBalancer, type PickState, stickyPeer } from './peers.ts';
import { roundRobinChoose } from './round-robin.ts';

/** Room for any rehash count in decimal. */
const digits = new Uint8Array(16);

/** `crc32(decimal(rehash) + key)`, rehash 0 meaning no prefix. */
export function rehashCrc(rehash: number, key: Uint8Array): number {
  let crc = CRC32_INIT;
  if (rehash > 0) {
    let n = rehash;
    let at = digits.length;
    while (n > 0) {
      digits[--at] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    crc = crc32Update(crc, digits, at, digits.length);
  }
  return crc32Final(crc32Update(crc, key, 0, key.length));
}

export class Hash extends PeerBalancer {
  choose(state: PickState, now: number): number {
    const peers = this.peers;
    if (state.tries > MAX_HASH_TRIES || peers.single || state.key.length === 0) {
      return roundRobinChoose(peers, state, now);
    }
    let p = stickyPeer(peers, state, 0, peers.primaries, now);
    if (p < 0) {
      for (;;) {
        state.hash += (rehashCrc(state.rehash, state.key) >>> 16) & 0x7fff;
        state.rehash++;
        p = walkWeights(peers, state.hash % peers.totalWeight);
        if (state.tried[p] === 0 && peers.usable(p, now)) break;
        if (++state.tries > MAX_HASH_TRIES) return roundRobinChoose(peers, state, now);
      }
    }
    return p;
  }
}
