import type { Continuum, RingMember } from './continuum.ts';

/** twemproxy's modula: each live server appears `weight` times in sorted order; index = hash % total. */
export function buildModula(members: readonly RingMember[]): Continuum {
  const servers: number[] = [];
  for (let idx = 0; idx < members.length; idx++) {
    const m = members[idx];
    if (!m.live) continue;
    for (let w = 0; w < m.weight; w++) servers.push(idx);
  }
  return { points: new Uint32Array(servers.length), servers: Uint16Array.from(servers) };
}

/** Random: one slot per live server; any of them serves any key. */
export function buildRandom(members: readonly RingMember[]): Continuum {
  const servers: number[] = [];
  for (let idx = 0; idx < members.length; idx++) if (members[idx].live) servers.push(idx);
  return { points: new Uint32Array(servers.length), servers: Uint16Array.from(servers) };
}
