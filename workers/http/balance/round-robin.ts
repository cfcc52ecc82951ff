/**
 * nginx's smooth weighted round robin (ngx_http_upstream_get_round_robin_peer and
 * ngx_http_upstream_get_peer, 1.22, with 1.29.6's sticky hint): 9:1 gives AAAAABAAAA, 5:1:1
 * AABACAA. Also the fallback of every other balancer.
 */
import { PeerBalancer, type PeerSet, type PickState, stickyPeer } from './peers.ts';

/** The smooth weighted choice among untried, usable peers of `[from, to)`; -1 when none. */
function smoothPick(
  peers: PeerSet,
  state: PickState,
  from: number,
  to: number,
  now: number,
): number {
  const ew = peers.effectiveWeight;
  const cw = peers.currentWeight;
  const tried = state.tried;
  const sticky = stickyPeer(peers, state, from, to, now);
  if (sticky >= 0) {
    // 1.29.6: a sticky peer far enough behind takes the request without reweighting.
    const total = to - from === peers.primaries ? peers.totalWeight : peers.backupTotalWeight;
    if (cw[sticky] <= -(total - peers.weight[sticky])) return sticky;
  }
  let best = -1;
  let total = 0;
  for (let i = from; i < to; i++) {
    if (tried[i] === 1 || !peers.usable(i, now)) continue;
    cw[i] += ew[i];
    total += ew[i];
    if (ew[i] < peers.weight[i]) ew[i]++;
    if (best < 0 || cw[i] > cw[best]) best = i;
  }
  if (sticky >= 0) best = sticky;
  if (best < 0) return -1;
  cw[best] -= total;
  return best;
}

/** nginx's get_round_robin_peer, without taking the peer: primaries, then (once none is left) the backups. */
export function roundRobinChoose(peers: PeerSet, state: PickState, now: number): number {
  let peer = -1;
  if (!state.backup) {
    if (peers.single) {
      // nginx's single peer: never failed, only down or full stop it. It is tried at most once
      // a request (one try); tried here means another worker filled it after it was chosen.
      peer = 0;
      if (
        peers.down[0] === 1 ||
        state.tried[0] === 1 ||
        (peers.maxConns[0] !== 0 && peers.conns(0) >= peers.maxConns[0])
      )
        peer = -1;
    } else {
      peer = smoothPick(peers, state, 0, peers.primaries, now);
    }
    if (peer < 0 && peers.count > peers.primaries) state.backup = true;
  }
  if (peer < 0 && state.backup) peer = smoothPick(peers, state, peers.primaries, peers.count, now);
  return peer;
}

export class RoundRobin extends PeerBalancer {
  choose(state: PickState, now: number): number {
    return roundRobinChoose(this.peers, state, now);
  }
}
