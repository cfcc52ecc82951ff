import { lockBalance, unlockBalance } from '../../../engine/shared/balance-memory.ts';
import { BE_WEIGHT_SCALE, fingerprint, type Picker, type ServerSlots } from './slots.ts';

/**
 * What HAProxy's tree algorithms (fwrr, fwlc) share in legate: the backend's balancing cells,
 * every worker's view of one order, changed only under the backend's balancing lock, and the
 * fingerprint of the weights and backups the cells were built from.
 */
export abstract class SharedTreePicker implements Picker {
  protected readonly c: Int32Array;
  /** Effective weights (user weight × 16), by server. */
  protected readonly ew: Int32Array;
  protected readonly backup: Uint8Array;
  protected readonly allBackups: boolean;
  protected readonly worker: number;
  /** Differs from the cells' FINGERPRINT when they were built for other weights or algorithm. */
  protected readonly built: number;

  constructor(
    algorithm: number,
    cells: Int32Array,
    weights: readonly number[],
    backup: readonly boolean[],
    allBackups: boolean,
    worker: number,
  ) {
    this.c = cells;
    this.ew = Int32Array.from(weights, (w) => w * BE_WEIGHT_SCALE);
    this.backup = Uint8Array.from(backup, (b) => (b ? 1 : 0));
    this.allBackups = allBackups;
    this.worker = worker;
    this.built = fingerprint(algorithm, this.ew, this.backup);
  }

  /** A server with a slot taken on it, or NO_SERVER / ALL_FULL; `avoid` only as a last resort. */
  pick(slots: ServerSlots, avoid: number): number {
    const c = this.c;
    lockBalance(c, this.worker);
    try {
      return this.pickLocked(slots, avoid);
    } finally {
      unlockBalance(c);
    }
  }

  /** The pick itself, under the backend's balancing lock. */
  protected abstract pickLocked(slots: ServerSlots, avoid: number): number;
}
