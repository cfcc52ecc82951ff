/**
 * nginx's least_conn (ngx_http_upstream_get_least_conn_peer, 1.22): the usable peer with the
 * fewest connections for its weight (`conns * best.weight < best.conns * weight`); ties are
 * broken by the smooth weighted round robin among the tied peers from the first of them on.
 * Connection counts are shared by all workers (nginx counts per worker without a `zone`).
 */
import { PeerBalancer, type PeerSet, type PickState, stickyPeer } from './peers.ts';
import { roundRobinChoose } from './round-robin.ts';

function leastConn(
  peers: PeerSet,
  state: PickState,
  from: number,
  to: number,
  now: number,
): number {
  const sticky = stickyPeer(peers, state, from, to, now);
  if (sticky >= 0) return sticky;
  const tried = state.tried;
  const weight = peers.weight;
  let best = -1;
  let bestConns = 0;
  let many = false;
  for (let i = from; i < to; i++) {
    if (tried[i] === 1 || !peers.usable(i, now)) continue;
    const conns = peers.conns(i);
    if (best < 0 || conns * weight[best] < bestConns * weight[i]) {
      best = i;
      bestConns = conns;
      many = false;
    } else if (conns * weight[best] === bestConns * weight[i]) {
      many = true;
    }
  }
  if (best < 0) return -1;
  const ew = peers.effectiveWeight;
  const cw = peers.currentWeight;
  let total = 0;
  if (many) {
    for (let i = best; i < to; i++) {
      if (tried[i] === 1 || peers.down[i] === 1) continue;
      if (peers.conns(i) * weight[best] !== peers.conns(best) * weight[i]) continue;
      if (!peers.usable(i, now)) continue;
      cw[i] += ew[i];
      total += ew[i];
      if (ew[i] < weight[i]) ew[i]++;
      if (cw[i] > cw[best]) best = i;
    }
  }
  cw[best] -= total;
  return best;
}

export class LeastConn extends PeerBalancer {
  choose(state: PickState, now: number): number {
    const peers = this.peers;
    if (peers.single) return roundRobinChoose(peers, state, now);
    let peer = -1;
    if (!state.backup) {
      peer = leastConn(peers, state, 0, peers.primaries, now);
      if (peer < 0 && peers.count > peers.primaries) state.backup = true;
    }
    if (peer < 0 && state.backup) peer = leastConn(peers, state, peers.primaries, peers.count, now);
    if (peer < 0) return -1;
    return peer;
  }
}
