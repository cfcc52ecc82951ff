// A family of continuums in which every entry names its own ring size and index, so a reader can
// tell from one lookup whether the count, points and servers it saw all came from one generation.
import type { Continuum } from '../../engine/ring/continuum.ts';

export function pointsFor(count: number): Uint32Array {
  const points = new Uint32Array(count);
  for (let i = 0; i < count; i++) points[i] = Math.floor((i * 2 ** 32) / count) + 7;
  return points;
}

export function tornTestContinuum(count: number): Continuum {
  const servers = new Uint16Array(count);
  for (let i = 0; i < count; i++) servers[i] = (count << 8) | i;
  return { points: pointsFor(count), servers };
}

const cache = new Map<number, Uint32Array>();
export function expectedIndex(count: number, hash: number): number {
  let points = cache.get(count);
  if (!points) {
    points = pointsFor(count);
    cache.set(count, points);
  }
  let i = 0;
  while (i < count && points[i] < hash) i++;
  return i === count ? 0 : i;
}
