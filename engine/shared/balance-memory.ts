/**
 * The balancing state of one TCP backend, shared by every worker: HAProxy keeps one
 * roundrobin / leastconn tree per backend for all its threads, behind a lock, so the order in
 * which servers are picked is process-wide. legate keeps the same state here, in Int32 cells
 * at the end of the backend's SharedArrayBuffer, behind a spinlock a worker holds for one pick
 * or one reposition (a few hundred instructions, no allocation).
 *
 *   header:      LOCK FINGERPRINT STAMP, then two groups (active, backup) of
 *                CURR_POS CURR_WEIGHT NEXT_WEIGHT INIT_TREE NEXT_TREE USABLE
 *   per server:  LB_USABLE TREE LINKED KEY ORDER NPOS LPOS RWEIGHT
 *
 * An HAProxy eb32 tree is represented by the servers whose TREE names it and that are LINKED;
 * its first entry is the lowest KEY (unsigned), equal keys in insertion ORDER (ebtree puts a
 * duplicate after the ones already there). ORDER comes from the STAMP counter.
 */

export const LOCK = 0;
/** Which config the state was built for (algorithm, weights, backups); 0: not built yet. */
export const FINGERPRINT = 1;
export const STAMP = 2;
const GROUPS = 3;
export const GROUP_CELLS = 6;
export const CURR_POS = 0;
export const CURR_WEIGHT = 1;
export const NEXT_WEIGHT = 2;
export const INIT_TREE = 3;
export const NEXT_TREE = 4;
/** Servers of the group the balancer counts as usable (HAProxy srv_act / srv_bck). */
export const USABLE = 5;
const HEADER = GROUPS + 2 * GROUP_CELLS;

export const SERVER_CELLS = 8;
/** The server's state as the balancer last applied it (HAProxy's committed state). */
export const LB_USABLE = 0;
/** The tree the server belongs to (HAProxy lb_tree), kept while it is out of it. */
export const TREE = 1;
/** In its tree now (HAProxy: the node is linked). */
export const LINKED = 2;
export const KEY = 3;
export const ORDER = 4;
export const NPOS = 5;
export const LPOS = 6;
export const RWEIGHT = 7;

/** Where group `g` (0 active, 1 backup) starts. */
export function groupAt(g: number): number {
  return GROUPS + g * GROUP_CELLS;
}

/** Where server `s`'s cells start. */
export function serverAt(s: number): number {
  return HEADER + s * SERVER_CELLS;
}

export function balanceCells(servers: number): number {
  return HEADER + servers * SERVER_CELLS;
}

const SPINS_BEFORE_WAIT = 256;

/** Takes the backend's balancing lock; `worker` is recorded so a dead worker's lock can be freed. */
export function lockBalance(cells: Int32Array, worker: number): void {
  const me = worker + 1;
  for (let spins = 0; ; spins++) {
    const holder = Atomics.compareExchange(cells, LOCK, 0, me);
    if (holder === 0) return;
    // The holder may be descheduled (more threads than cores): stop burning its core.
    if (spins >= SPINS_BEFORE_WAIT) Atomics.wait(cells, LOCK, holder, 1);
  }
}

export function unlockBalance(cells: Int32Array): void {
  Atomics.store(cells, LOCK, 0);
  Atomics.notify(cells, LOCK, 1);
}

/** Main thread: a worker died, perhaps inside a pick; the lock it held is freed. */
export function releaseBalanceLockOf(cells: Int32Array, worker: number): void {
  if (Atomics.compareExchange(cells, LOCK, worker + 1, 0) === worker + 1)
    Atomics.notify(cells, LOCK, 1);
}

const STAMP_LIMIT = 2 ** 30;

/**
 * The next insertion order, under the lock. Before the counter could wrap, every server's
 * ORDER is renumbered by rank, which keeps their relative order.
 */
export function nextStamp(cells: Int32Array, servers: number): number {
  if (cells[STAMP] >= STAMP_LIMIT) {
    // Stamps are >= 0: a renumbered server holds -1 - rank until all are done.
    for (let rank = 0; rank < servers; rank++) {
      let low = -1;
      for (let s = 0; s < servers; s++) {
        const o = cells[serverAt(s) + ORDER];
        if (o >= 0 && (low < 0 || o < cells[serverAt(low) + ORDER])) low = s;
      }
      cells[serverAt(low) + ORDER] = -1 - rank;
    }
    for (let s = 0; s < servers; s++) cells[serverAt(s) + ORDER] = -1 - cells[serverAt(s) + ORDER];
    cells[STAMP] = servers;
  }
  return ++cells[STAMP];
}
