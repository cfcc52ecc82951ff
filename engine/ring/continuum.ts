/**
 * A pool's continuum as its distribution builds it: parallel arrays of points and the server
 * index (into the pool's name-sorted server list) each point belongs to, in lookup order.
 * For ketama `points` is sorted ascending; modula and random leave it zero (they index `servers`).
 */
export interface Continuum {
  readonly points: Uint32Array;
  readonly servers: Uint16Array;
}

/** What a distribution needs to know of a server: its name and weight, and whether it is in the ring. */
export interface RingMember {
  readonly name: string;
  readonly weight: number;
  readonly live: boolean;
}
