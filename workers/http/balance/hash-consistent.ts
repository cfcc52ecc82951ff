/**
 * nginx's `hash KEY consistent` (ngx_http_upstream_init_chash / get_chash_peer, 1.22), compatible
 * with Cache::Memcached::Fast: each peer's server string as written is split into host and port
 * at a trailing `:digits`; `weight * 160` points `crc32(host \0 port PREV)` with PREV the previous
 * point as 4 little-endian bytes (0 first); points sorted, duplicates dropped. A request starts
 * at the first point ≥ crc32(key); among the untried, usable peers with that point's server
 * string the smooth weighted round robin picks; none → the next point; past 20, round robin.
 */
import { CRC32_INIT, crc32a, crc32Final, crc32Update } from '../../../engine/hash/crc32.ts';
import { MAX_HASH_TRIES, PeerBalancer, type PeerSet, type PickState, stickyPeer } from './peers.ts';
import { roundRobinChoose } from './round-robin.ts';

const encoder = new TextEncoder();

/** The points of a ring: sorted hashes and, for each, the index of its server string. */
export interface ChashPoints {
  readonly hash: Uint32Array;
  readonly server: Int32Array;
}

/** nginx's split of a server string: `unix:` → (rest, ''); trailing `:digits` → (host, digits). */
export function splitServer(server: string): { host: string; port: string } {
  if (server.length >= 5 && server.slice(0, 5).toLowerCase() === 'unix:') {
    return { host: server.slice(5), port: '' };
  }
  for (let j = 0; j < server.length; j++) {
    const c = server.charCodeAt(server.length - j - 1);
    if (c === 58)
      return {
        host: server.slice(0, server.length - j - 1),
        port: server.slice(server.length - j),
      };
    if (c < 48 || c > 57) break;
  }
  return { host: server, port: '' };
}

/** The points one server string contributes for `weight`, in generation order. */
export function serverPoints(server: string, weight: number): Uint32Array {
  const { host, port } = splitServer(server);
  const hostBytes = encoder.encode(host);
  const portBytes = encoder.encode(port);
  let base = crc32Update(CRC32_INIT, hostBytes, 0, hostBytes.length);
  base = crc32Update(base, NUL, 0, 1);
  base = crc32Update(base, portBytes, 0, portBytes.length);
  const out = new Uint32Array(weight * 160);
  const prev = new Uint8Array(4);
  let prevHash = 0;
  for (let j = 0; j < out.length; j++) {
    prev[0] = prevHash;
    prev[1] = prevHash >>> 8;
    prev[2] = prevHash >>> 16;
    prev[3] = prevHash >>> 24;
    prevHash = crc32Final(crc32Update(base, prev, 0, 4));
    out[j] = prevHash;
  }
  return out;
}

const NUL = new Uint8Array(1);

/** The ring for `peers` (primaries only; consistent hash has no backups). */
export function buildPoints(names: readonly string[], weights: ArrayLike<number>): ChashPoints {
  const all: { hash: number; server: number }[] = [];
  for (let i = 0; i < names.length; i++) {
    for (const h of serverPoints(names[i], weights[i])) all.push({ hash: h, server: i });
  }
  // nginx's qsort is not stable; equal hashes collapse to one point below anyway, and which
  // server a duplicate keeps is as unspecified there as here (CRC-32 collisions are rare).
  all.sort((a, b) => a.hash - b.hash);
  const hash: number[] = [];
  const server: number[] = [];
  for (const point of all) {
    if (hash.length > 0 && hash[hash.length - 1] === point.hash) continue;
    hash.push(point.hash);
    server.push(point.server);
  }
  return { hash: Uint32Array.from(hash), server: Int32Array.from(server) };
}

/** The first point with hash ≥ `h`; may be the count (the caller wraps with `% count`). */
export function findPoint(points: ChashPoints, h: number): number {
  let lo = 0;
  let hi = points.hash.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points.hash[mid] < h) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class HashConsistent extends PeerBalancer {
  readonly points: ChashPoints;
  /** Per peer, the index of its server string (equal strings share one). */
  readonly #serverOf: Int32Array;

  constructor(peers: PeerSet) {
    super(peers);
    const names: string[] = [];
    const weights: number[] = [];
    this.#serverOf = new Int32Array(peers.primaries);
    for (let i = 0; i < peers.primaries; i++) {
      const name = peers.specs[i].name;
      names.push(name);
      weights.push(peers.weight[i]);
      this.#serverOf[i] = names.indexOf(name);
    }
    // Points are made per peer, as nginx does; two peers with one server string make equal
    // points that collapse, and the point names the string, so either peer can take it.
    const ring = buildPoints(names, weights);
    for (let k = 0; k < ring.server.length; k++) ring.server[k] = this.#serverOf[ring.server[k]];
    this.points = ring;
  }

  override begin(state: PickState, key: Uint8Array, hint: number): void {
    state.reset(key, hint);
    if (key.length > 0) state.hash = findPoint(this.points, crc32a(key, 0, key.length));
  }

  choose(state: PickState, now: number): number {
    const peers = this.peers;
    if (state.tries > MAX_HASH_TRIES || peers.single || state.key.length === 0) {
      return roundRobinChoose(peers, state, now);
    }
    let best = stickyPeer(peers, state, 0, peers.primaries, now);
    if (best < 0) {
      const ew = peers.effectiveWeight;
      const cw = peers.currentWeight;
      const count = this.points.hash.length;
      for (;;) {
        const server = this.points.server[state.hash % count];
        let total = 0;
        for (let i = 0; i < peers.primaries; i++) {
          if (state.tried[i] === 1 || this.#serverOf[i] !== server || !peers.usable(i, now))
            continue;
          cw[i] += ew[i];
          total += ew[i];
          if (ew[i] < peers.weight[i]) ew[i]++;
          if (best < 0 || cw[i] > cw[best]) best = i;
        }
        if (best >= 0) {
          cw[best] -= total;
          break;
        }
        state.hash++;
        if (++state.tries > MAX_HASH_TRIES) return roundRobinChoose(peers, state, now);
      }
    }
    return best;
  }
}
