/**
 * `balance roundrobin` as HAProxy runs it (src/lb_fwrr.c, the same in 2.6 and 2.9): the fast
 * weighted round robin. Each group (active, backup) has three trees: "init" (servers not
 * picked yet this round, heaviest first), "curr" (servers by their next position), "next"
 * (servers whose next position falls beyond this round). A pick takes the first server of
 * "curr" whose position has come, else the heaviest of "init"; a server at its maxconn is
 * moved on as if it had been picked, and put back after the pick. Weights 3:1:2 give
 * a c a b a c, where nginx's smooth round robin gives a c a b c a.
 *
 * The state is the backend's shared balancing memory, so every worker continues the one
 * process-wide sequence, as HAProxy's threads share one tree under its lbprm lock. Server
 * state changes (health, admin) are applied by the next pick, in server order, as HAProxy's
 * set_server_status_up/down would; without slowstart a server comes back at its full weight.
 */
import {
  CURR_POS,
  CURR_WEIGHT,
  FINGERPRINT,
  GROUP_CELLS,
  groupAt,
  INIT_TREE,
  KEY,
  LB_USABLE,
  LINKED,
  LPOS,
  NEXT_TREE,
  NEXT_WEIGHT,
  NPOS,
  nextStamp,
  ORDER,
  RWEIGHT,
  serverAt,
  TREE,
  USABLE,
} from '../../../engine/shared/balance-memory.ts';
import { SharedTreePicker } from './shared-tree.ts';
import {
  ALL_FULL,
  BE_WEIGHT_SCALE,
  firstBackup,
  NO_SERVER,
  type ServerSlots,
  SRV_EWGHT_MAX,
} from './slots.ts';

/** SRV_UWGHT_RANGE: positions are stored × 256 in a "curr" key, the weight in the low bits. */
const UWGHT_RANGE = 256;
const ALGORITHM = 1;

/*
 * Tree ids: 0 is none (HAProxy lb_tree NULL); the group starting at cell g (never 0) has
 * "curr" = g and t0, t1 = g + 1, g + 2, which take turns as "init" and "next".
 */

export class FastWeightedRoundRobin extends SharedTreePicker {
  /** Servers skipped during one pick (HAProxy's next_full chain), by server: the next one. */
  readonly #nextFull: Int32Array;

  constructor(
    cells: Int32Array,
    weights: readonly number[],
    backup: readonly boolean[],
    allBackups: boolean,
    worker: number,
  ) {
    super(ALGORITHM, cells, weights, backup, allBackups, worker);
    this.#nextFull = new Int32Array(weights.length);
  }

  protected pickLocked(slots: ServerSlots, avoid: number): number {
    if (this.c[FINGERPRINT] !== this.built) this.#init(slots);
    else this.#sync(slots);
    return this.#next(slots, avoid);
  }

  /** HAProxy fwrr_init_server_groups: every usable server in its group's "init" tree. */
  #init(slots: ServerSlots): void {
    const c = this.c;
    const n = this.ew.length;
    for (let g = 0; g < 2; g++) {
      const at = groupAt(g);
      for (let k = 0; k < GROUP_CELLS; k++) c[at + k] = 0;
      c[at + INIT_TREE] = at + 1;
      c[at + NEXT_TREE] = at + 2;
    }
    for (let s = 0; s < n; s++) {
      const at = serverAt(s);
      const usable = slots.usable(s) ? 1 : 0;
      c[at + LB_USABLE] = usable;
      c[at + TREE] = 0;
      c[at + LINKED] = 0;
      c[at + NPOS] = 0;
      c[at + LPOS] = 0;
      c[at + RWEIGHT] = 0;
      if (usable === 1) {
        const g = groupAt(this.backup[s]);
        c[g + NEXT_WEIGHT] += this.ew[s];
        c[g + USABLE]++;
      }
    }
    for (let g = 0; g < 2; g++) {
      const at = groupAt(g);
      c[at + CURR_POS] = c[at + NEXT_WEIGHT];
      c[at + CURR_WEIGHT] = c[at + NEXT_WEIGHT];
    }
    for (let s = 0; s < n; s++)
      if (c[serverAt(s) + LB_USABLE] === 1)
        this.#queueByWeight(c[groupAt(this.backup[s]) + INIT_TREE], s);
    c[FINGERPRINT] = this.built;
  }

  /** Applies health and admin changes seen since the last pick. */
  #sync(slots: ServerSlots): void {
    const c = this.c;
    for (let s = 0; s < this.ew.length; s++) {
      const usable = slots.usable(s) ? 1 : 0;
      if (usable === c[serverAt(s) + LB_USABLE]) continue;
      if (usable === 1) this.#up(s);
      else this.#down(s);
    }
  }

  /** HAProxy fwrr_set_server_status_down. */
  #down(s: number): void {
    const c = this.c;
    const at = serverAt(s);
    const g = groupAt(this.backup[s]);
    c[g + NEXT_WEIGHT] -= this.ew[s];
    c[g + USABLE]--;
    c[at + LINKED] = 0;
    c[at + TREE] = 0;
    c[at + LB_USABLE] = 0;
  }

  /** HAProxy fwrr_set_server_status_up: placed from the group's current position. */
  #up(s: number): void {
    const c = this.c;
    const at = serverAt(s);
    const g = groupAt(this.backup[s]);
    const ew = this.ew[s];
    c[g + NEXT_WEIGHT] += ew;
    c[g + USABLE]++;
    c[at + LB_USABLE] = 1;
    this.#getSrv(s);
    c[at + NPOS] =
      c[g + CURR_POS] +
      Math.trunc((c[g + NEXT_WEIGHT] + c[g + CURR_WEIGHT] - c[g + CURR_POS]) / ew);
    this.#queueSrv(s);
  }

  /** HAProxy fwrr_get_next_server, with the slot taken on the server it returns. */
  #next(slots: ServerSlots, avoid: number): number {
    const c = this.c;
    let g: number;
    if (c[groupAt(0) + USABLE] > 0) g = groupAt(0);
    else {
      const fbck = this.allBackups ? -1 : firstBackup(slots, this.backup);
      if (fbck >= 0) return slots.reserve(fbck) ? fbck : ALL_FULL;
      if (c[groupAt(1) + USABLE] > 0) g = groupAt(1);
      else return NO_SERVER;
    }
    const nextFull = this.#nextFull;
    let switched = false;
    let avoided = -1;
    let full = -1;
    let chosen = -1;
    search: for (;;) {
      // An empty group may have had weights restored since: collect them.
      if (c[g + CURR_WEIGHT] === 0) {
        c[g + CURR_WEIGHT] = c[g + NEXT_WEIGHT];
        c[g + CURR_POS] = c[g + NEXT_WEIGHT];
      }
      let s = this.#fromGroup(g);
      while (s < 0) {
        if (switched) break search;
        switched = true;
        this.#switchTrees(g);
        s = this.#fromGroup(g);
      }
      this.#updatePosition(g, s);
      c[serverAt(s) + LINKED] = 0;
      c[g + CURR_POS]++;
      if (s !== avoid) {
        if (slots.reserve(s)) {
          chosen = s;
          break;
        }
      } else if (avoided < 0 && slots.hasSlot(s)) avoided = s;
      nextFull[s] = full;
      full = s;
    }
    if (chosen < 0 && avoided >= 0) chosen = avoided;
    if (chosen >= 0) this.#queueSrv(chosen);
    // The skipped servers go back: to "init" by weight when the round changed under them (their
    // place is lost), else where their consumed turn put them.
    for (; full >= 0; full = nextFull[full]) {
      if (full === chosen) continue;
      if (switched) this.#queueByWeight(c[g + INIT_TREE], full);
      else this.#queueSrv(full);
    }
    if (chosen < 0) return ALL_FULL;
    if (chosen === avoided && !slots.reserve(chosen)) return ALL_FULL;
    return chosen;
  }

  /** HAProxy fwrr_get_server_from_group: "curr" if its first is due, else the heaviest of "init". */
  #fromGroup(g: number): number {
    const c = this.c;
    const s1 = this.#first(g);
    if (s1 >= 0 && c[serverAt(s1) + NPOS] <= c[g + CURR_POS]) return s1;
    const s2 = this.#first(c[g + INIT_TREE]);
    if (s2 >= 0) {
      c[serverAt(s2) + NPOS] = 0;
      c[serverAt(s2) + RWEIGHT] = 0;
      return s2;
    }
    return s1;
  }

  /** The first server of a tree: the lowest key, unsigned; equal keys in insertion order. */
  #first(tree: number): number {
    const c = this.c;
    let best = -1;
    let bestKey = 0;
    let bestOrder = 0;
    for (let s = 0; s < this.ew.length; s++) {
      const at = serverAt(s);
      if (c[at + LINKED] === 0 || c[at + TREE] !== tree) continue;
      const key = c[at + KEY] >>> 0;
      const order = c[at + ORDER];
      if (best < 0 || key < bestKey || (key === bestKey && order < bestOrder)) {
        best = s;
        bestKey = key;
        bestOrder = order;
      }
    }
    return best;
  }

  #link(tree: number, s: number): void {
    const at = serverAt(s);
    this.c[at + TREE] = tree;
    this.c[at + LINKED] = 1;
    this.c[at + ORDER] = nextStamp(this.c, this.ew.length);
  }

  /** HAProxy fwrr_queue_by_weight: heaviest first. */
  #queueByWeight(tree: number, s: number): void {
    this.c[serverAt(s) + KEY] = SRV_EWGHT_MAX - this.ew[s];
    this.#link(tree, s);
  }

  /** HAProxy fwrr_queue_srv: into "curr" at its next position, or "next" if beyond the round. */
  #queueSrv(s: number): void {
    const c = this.c;
    const at = serverAt(s);
    if (c[at + LB_USABLE] === 0) {
      c[at + TREE] = 0;
      return;
    }
    const g = groupAt(this.backup[s]);
    const npos = c[at + NPOS];
    const currWeight = c[g + CURR_WEIGHT];
    if (npos >= 2 * currWeight || npos >= currWeight + c[g + NEXT_WEIGHT]) {
      c[at + NPOS] = npos - currWeight;
      this.#queueByWeight(c[g + NEXT_TREE], s);
      return;
    }
    // Unsigned in HAProxy: a position past 2^24 wraps the key as the C code's does.
    const weightBits = Math.floor((SRV_EWGHT_MAX + c[at + RWEIGHT] - this.ew[s]) / BE_WEIGHT_SCALE);
    c[at + KEY] = (UWGHT_RANGE * npos + weightBits) | 0;
    this.#link(g, s);
  }

  /** HAProxy fwrr_get_srv: where a server resumes, by the tree it was in. */
  #getSrv(s: number): void {
    const c = this.c;
    const at = serverAt(s);
    const g = groupAt(this.backup[s]);
    const tree = c[at + TREE];
    if (tree === c[g + INIT_TREE]) {
      c[at + NPOS] = 0;
      c[at + RWEIGHT] = 0;
    } else if (tree === c[g + NEXT_TREE]) c[at + NPOS] += c[g + CURR_WEIGHT];
    else if (tree === 0) c[at + NPOS] = c[g + CURR_POS];
  }

  /** HAProxy fwrr_switch_trees: a new round. */
  #switchTrees(g: number): void {
    const c = this.c;
    const init = c[g + INIT_TREE];
    c[g + INIT_TREE] = c[g + NEXT_TREE];
    c[g + NEXT_TREE] = init;
    c[g + CURR_WEIGHT] = c[g + NEXT_WEIGHT];
    c[g + CURR_POS] = c[g + CURR_WEIGHT];
  }

  /** HAProxy fwrr_update_position: the server's next turn, the remainder carried in rweight. */
  #updatePosition(g: number, s: number): void {
    const c = this.c;
    const at = serverAt(s);
    const ew = this.ew[s];
    if (c[at + NPOS] === 0) c[at + NPOS] = c[g + CURR_POS];
    c[at + LPOS] = c[at + NPOS];
    const next = c[g + NEXT_WEIGHT];
    c[at + NPOS] += Math.trunc(next / ew);
    c[at + RWEIGHT] += next % ew;
    if (c[at + RWEIGHT] >= ew) {
      c[at + RWEIGHT] -= ew;
      c[at + NPOS]++;
    }
  }
}
