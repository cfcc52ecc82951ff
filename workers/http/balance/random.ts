/**
 * nginx's `random [two [least_conn]]` (ngx_http_upstream_random_module.c, 1.22): a peer drawn
 * with probability proportional to its weight (down ones included in the draw, then skipped);
 * with `two`, two distinct usable peers are drawn and the one with fewer connections for its
 * weight wins (the second drawn on a tie). More than 20 draws: round robin.
 */
import { MAX_HASH_TRIES, PeerBalancer, type PeerSet, type PickState, stickyPeer } from './peers.ts';
import { roundRobinChoose } from './round-robin.ts';

/** A uniform integer in [0, n); replaceable so tests can drive the draws. */
export type RandomInt = (n: number) => number;

const mathRandomInt: RandomInt = (n) => Math.floor(Math.random() * n);

export class RandomBalancer extends PeerBalancer {
  readonly two: boolean;
  /** `ranges[i]`: the sum of the weights before primary i. */
  readonly #ranges: Int32Array;
  readonly #random: RandomInt;

  constructor(peers: PeerSet, two: boolean, random: RandomInt = mathRandomInt) {
    super(peers);
    this.two = two;
    this.#random = random;
    this.#ranges = new Int32Array(peers.primaries);
    let sum = 0;
    for (let i = 0; i < peers.primaries; i++) {
      this.#ranges[i] = sum;
      sum += peers.weight[i];
    }
  }

  /** nginx's peek_random_peer: a binary search of a weighted draw. */
  #peek(): number {
    const x = this.#random(this.peers.totalWeight);
    const ranges = this.#ranges;
    let i = 0;
    let j = ranges.length;
    while (j - i > 1) {
      const k = (i + j) >>> 1;
      if (x < ranges[k]) j = k;
      else i = k;
    }
    return i;
  }

  choose(state: PickState, now: number): number {
    const peers = this.peers;
    if (state.tries > MAX_HASH_TRIES || peers.single) return roundRobinChoose(peers, state, now);
    let peer = stickyPeer(peers, state, 0, peers.primaries, now);
    if (peer < 0) {
      let prev = -1;
      for (;;) {
        const i = this.#peek();
        if (i !== prev && state.tried[i] === 0 && peers.usable(i, now)) {
          if (!this.two) {
            peer = i;
            break;
          }
          if (prev >= 0) {
            peer =
              peers.conns(i) * peers.weight[prev] > peers.conns(prev) * peers.weight[i] ? prev : i;
            break;
          }
          prev = i;
        }
        if (++state.tries > MAX_HASH_TRIES) return roundRobinChoose(peers, state, now);
      }
    }
    return peer;
  }
}
