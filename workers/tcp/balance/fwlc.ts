/**
 * `balance leastconn` as HAProxy runs it (src/lb_fwlc.c, the same in 2.6 and 2.9): servers in
 * a tree keyed by `inflight ? (inflight + 1) × SRV_EWGHT_MAX / eweight : 0` (inflight: the
 * sessions on the server; an idle server is always 0), walked from the lowest key; the first
 * server below its maxconn and not the one to avoid takes the session. Equal keys keep their
 * insertion order, and a server is re-inserted (after its equals) each time its key changes,
 * so among tied servers the one whose count changed longest ago comes first: three sessions
 * held on a, b, c and b's released, the next session goes to b.
 *
 * The key is computed from the shared session count; the insertion order is a stamp in the
 * backend's shared balancing memory, taken under its lock whenever the count changes (as
 * HAProxy repositions under its lbprm lock), so the order holds across workers.
 */
import {
  FINGERPRINT,
  LB_USABLE,
  lockBalance,
  nextStamp,
  ORDER,
  STAMP,
  serverAt,
  unlockBalance,
} from '../../../engine/shared/balance-memory.ts';
import { SharedTreePicker } from './shared-tree.ts';
import { ALL_FULL, firstBackup, NO_SERVER, type ServerSlots, SRV_EWGHT_MAX } from './slots.ts';

const ALGORITHM = 2;

export class FastWeightedLeastConn extends SharedTreePicker {
  constructor(
    cells: Int32Array,
    weights: readonly number[],
    backup: readonly boolean[],
    allBackups: boolean,
    worker: number,
  ) {
    super(ALGORITHM, cells, weights, backup, allBackups, worker);
  }

  /** HAProxy's tree key for `s` with `inflight` sessions. */
  key(s: number, inflight: number): number {
    return inflight === 0 ? 0 : Math.floor(((inflight + 1) * SRV_EWGHT_MAX) / this.ew[s]);
  }

  protected pickLocked(slots: ServerSlots, avoid: number): number {
    this.#sync(slots);
    return this.#next(slots, avoid);
  }

  /**
   * `s`'s session count changed (a slot taken or given back outside a pick): it goes after the
   * servers with its new key, as HAProxy's fwlc_srv_reposition does. A server out of the tree
   * (down) is not moved; it is queued when it comes back.
   */
  moved(s: number): void {
    const c = this.c;
    lockBalance(c, this.worker);
    if (c[FINGERPRINT] === this.built && c[serverAt(s) + LB_USABLE] === 1)
      c[serverAt(s) + ORDER] = nextStamp(c, this.ew.length);
    unlockBalance(c);
  }

  /** Builds the state (declaration order) or applies health and admin changes since the last pick. */
  #sync(slots: ServerSlots): void {
    const c = this.c;
    const n = this.ew.length;
    if (c[FINGERPRINT] !== this.built) {
      for (let s = 0; s < n; s++) {
        c[serverAt(s) + LB_USABLE] = slots.usable(s) ? 1 : 0;
        c[serverAt(s) + ORDER] = s;
      }
      c[STAMP] = n;
      c[FINGERPRINT] = this.built;
      return;
    }
    for (let s = 0; s < n; s++) {
      const usable = slots.usable(s) ? 1 : 0;
      const at = serverAt(s);
      if (usable === c[at + LB_USABLE]) continue;
      c[at + LB_USABLE] = usable;
      // HAProxy fwlc_set_server_status_up: inserted after the servers with its key.
      if (usable === 1) c[at + ORDER] = nextStamp(c, n);
    }
  }

  /** HAProxy fwlc_get_next_server, with the slot taken on the server it returns. */
  #next(slots: ServerSlots, avoid: number): number {
    const c = this.c;
    let group = 0;
    if (!this.#anyUsable(0)) {
      const fbck = this.allBackups ? -1 : firstBackup(slots, this.backup);
      if (fbck >= 0) return this.#take(slots, fbck) ? fbck : ALL_FULL;
      if (!this.#anyUsable(1)) return NO_SERVER;
      group = 1;
    }
    // One pass: the lowest (key, order) among the servers with a slot, `avoid` only if no other
    // has one (HAProxy walks the tree from its lowest node the same way, skipping full ones).
    const n = this.ew.length;
    for (;;) {
      let s = -1;
      let key = 0;
      let order = 0;
      let avoided = -1;
      for (let t = 0; t < n; t++) {
        const at = serverAt(t);
        if (this.backup[t] !== group || c[at + LB_USABLE] === 0 || !slots.hasSlot(t)) continue;
        if (t === avoid) {
          avoided = t;
          continue;
        }
        const k = this.key(t, slots.current(t));
        const o = c[at + ORDER];
        if (s < 0 || k < key || (k === key && o < order)) {
          s = t;
          key = k;
          order = o;
        }
      }
      const chosen = s >= 0 ? s : avoided;
      if (chosen < 0) return ALL_FULL;
      if (this.#take(slots, chosen)) return chosen;
      // Its last slot went meanwhile (a retry takes one outside the lock): look again.
    }
  }

  #anyUsable(group: number): boolean {
    for (let s = 0; s < this.ew.length; s++)
      if (this.backup[s] === group && this.c[serverAt(s) + LB_USABLE] === 1) return true;
    return false;
  }

  /** Takes a slot; the changed count repositions the server (the lock is held). */
  #take(slots: ServerSlots, s: number): boolean {
    if (!slots.reserve(s)) return false;
    if (this.c[serverAt(s) + LB_USABLE] === 1)
      this.c[serverAt(s) + ORDER] = nextStamp(this.c, this.ew.length);
    return true;
  }
}
