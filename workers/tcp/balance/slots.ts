/** No server can take a session: none is up (or all are drained / in maintenance). */
export const NO_SERVER = -1;
/** Servers are up but every one is at its maxconn: the session waits in the queue. */
export const ALL_FULL = -2;

/**
 * What a balancing algorithm asks of a backend's servers: the same for every algorithm, read
 * from the backend's shared memory by the Balancer, or from arrays in the unit tests.
 */
export interface ServerSlots {
  /** Up, ready, with an address and a weight (HAProxy srv_willbe_usable). */
  usable(s: number): boolean;
  /** Below its maxconn now (HAProxy's "not saturated"), without taking a slot. */
  hasSlot(s: number): boolean;
  /** Takes a slot on `s` if it has one. */
  reserve(s: number): boolean;
  /** Sessions on `s` now, across workers (HAProxy served). */
  current(s: number): number;
}

/** One balancing algorithm: a server with a slot taken on it, or NO_SERVER / ALL_FULL. */
export interface Picker {
  /** `avoid`: a server that just failed, taken only as a last resort; `hash`: the client's, for `source`. */
  pick(slots: ServerSlots, avoid: number, hash: number): number;
}

/** HAProxy's effective weight for the tree algorithms: user weight × BE_WEIGHT_SCALE (16). */
export const BE_WEIGHT_SCALE = 16;
/** SRV_EWGHT_MAX: the largest user weight (256) × BE_WEIGHT_SCALE. */
export const SRV_EWGHT_MAX = 256 * BE_WEIGHT_SCALE;

/** A number that changes when what the shared state was built from changes (never 0). */
export function fingerprint(algorithm: number, weights: Int32Array, backup: Uint8Array): number {
  let h = 0x811c9dc5 ^ algorithm;
  for (let s = 0; s < weights.length; s++) {
    h = Math.imul(h ^ weights[s], 0x01000193);
    h = Math.imul(h ^ backup[s], 0x01000193);
  }
  return h | 1;
}

/** The first usable backup in declaration order (HAProxy lbprm.fbck), or -1. */
export function firstBackup(slots: ServerSlots, backup: Uint8Array): number {
  for (let s = 0; s < backup.length; s++) if (backup[s] === 1 && slots.usable(s)) return s;
  return -1;
}
