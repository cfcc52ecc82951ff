import type { Distribution } from '../config/types.ts';
import type { Continuum, RingMember } from './continuum.ts';
import { buildKetama } from './ketama.ts';
import { buildModula, buildRandom } from './modula.ts';

export function buildContinuum(
  distribution: Distribution,
  members: readonly RingMember[],
): Continuum {
  switch (distribution) {
    case 'ketama':
      return buildKetama(members);
    case 'modula':
      return buildModula(members);
    case 'random':
      return buildRandom(members);
  }
}

/** The most entries a pool's continuum can hold whatever servers are live: sizes its shared memory. */
export function continuumCapacity(
  distribution: Distribution,
  members: readonly RingMember[],
): number {
  if (distribution === 'ketama') return 160 * members.length;
  if (distribution === 'modula') return members.reduce((sum, m) => sum + m.weight, 0);
  return members.length;
}
