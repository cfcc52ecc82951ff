/**
 * A count every worker changes (connections on a server, sessions of a service), kept with each
 * worker's own share beside it, so the main thread can take back what a worker that died held.
 * Both are Int32 cells of one array, changed with Atomics only.
 *
 * The share goes up before the count and down after it: the count is never above the sum of the
 * shares, so taking a dead worker's share off never leaves a slot held by nobody.
 */

/**
 * Takes one of the count's slots if the count is under `limit` (0: no limit), in one
 * compare-and-swap against the limit, so that workers racing for the last slot cannot both get
 * it. Returns the count before (the slot taken is that number plus one), or -1 when full.
 */
export function takeSlot(cells: Int32Array, count: number, mine: number, limit: number): number {
  if (limit <= 0) {
    Atomics.add(cells, mine, 1);
    return Atomics.add(cells, count, 1);
  }
  for (;;) {
    const c = Atomics.load(cells, count);
    if (c >= limit) return -1;
    Atomics.add(cells, mine, 1);
    if (Atomics.compareExchange(cells, count, c, c + 1) === c) return c;
    Atomics.sub(cells, mine, 1);
  }
}

/** Gives back a slot takeSlot gave. */
export function giveSlot(cells: Int32Array, count: number, mine: number): void {
  Atomics.sub(cells, count, 1);
  Atomics.sub(cells, mine, 1);
}

/** Main thread: the worker whose share is `mine` died; what it held is no longer counted. */
export function forgetShare(cells: Int32Array, count: number, mine: number): void {
  Atomics.sub(cells, count, Atomics.exchange(cells, mine, 0));
}

/** Raises the high-water mark in `cells[at]` to `value` if it is below. */
export function raisePeak(cells: Int32Array, at: number, value: number): void {
  let max = Atomics.load(cells, at);
  while (value > max) {
    const seen = Atomics.compareExchange(cells, at, max, value);
    if (seen === max) return;
    max = seen;
  }
}
