import { md5Digest } from '../hash/md5.ts';
import type { Continuum, RingMember } from './continuum.ts';

const POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;

/**
 * Points twemproxy gives a server: `floorf(pct * 160 / 4 * nlive + 1e-10) * 4`, computed in
 * float32 as its C does, so some ring sizes get 156 points a server rather than 160.
 */
export function ketamaPointCount(
  weight: number,
  totalLiveWeight: number,
  liveCount: number,
): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalLiveWeight));
  const scaled = f(f(f(pct * POINTS_PER_SERVER) / POINTS_PER_HASH) * f(liveCount));
  return Math.floor(f(scaled + 1e-10)) * POINTS_PER_HASH;
}

/** Builds twemproxy's ketama continuum over the live members: MD5 of `"<name>-<i>"` gives four points. */
export function buildKetama(members: readonly RingMember[]): Continuum {
  let liveCount = 0;
  let totalWeight = 0;
  for (const m of members) {
    if (!m.live) continue;
    liveCount++;
    totalWeight += m.weight;
  }
  const pairs: Array<[point: number, server: number]> = [];
  for (let idx = 0; idx < members.length; idx++) {
    const m = members[idx];
    if (!m.live) continue;
    const perServer = ketamaPointCount(m.weight, totalWeight, liveCount);
    for (let i = 0; i < perServer / POINTS_PER_HASH; i++) {
      const digest = Buffer.from(md5Digest(Buffer.from(`${m.name}-${i}`)).buffer);
      for (let x = 0; x < POINTS_PER_HASH; x++) pairs.push([digest.readUInt32LE(x * 4), idx]);
    }
  }
  // twemproxy qsorts by value only; ties (rare 32-bit collisions) keep insertion order here.
  pairs.sort((a, b) => a[0] - b[0]);
  const points = new Uint32Array(pairs.length);
  const servers = new Uint16Array(pairs.length);
  for (let i = 0; i < pairs.length; i++) {
    points[i] = pairs[i][0];
    servers[i] = pairs[i][1];
  }
  return { points, servers };
}
