/**
 * `balance first` as HAProxy runs it (src/lb_fas.c, the same in 2.6 and 2.9): servers in a
 * tree keyed by their id, walked from the lowest; the first below its maxconn and not the one
 * to avoid takes the session. Ids are HAProxy's: an explicit `id`, else the lowest id not
 * taken from a counter that steps on after every server (cfgparse.c), so without `id` the order
 * is the declaration order. Nothing is kept between picks: every worker sees the same order.
 */
import { ALL_FULL, firstBackup, NO_SERVER, type Picker, type ServerSlots } from './slots.ts';

/** HAProxy's server ids (puid) for servers declared with `ids[i]` (null: automatic). */
export function serverIds(ids: readonly (number | null)[]): number[] {
  const used = new Set<number>();
  for (const id of ids) if (id !== null) used.add(id);
  const out: number[] = [];
  // As cfgparse.c does: the counter steps on by one after every server, an explicit id or not.
  let next = 1;
  for (const id of ids) {
    if (id === null) {
      while (used.has(next)) next++;
      used.add(next);
      out.push(next);
    } else out.push(id);
    next++;
  }
  return out;
}

export class FirstAvailable implements Picker {
  /** Server indexes by ascending id. */
  readonly #order: Int32Array;
  readonly #backup: Uint8Array;
  readonly #allBackups: boolean;

  constructor(ids: readonly number[], backup: readonly boolean[], allBackups: boolean) {
    this.#order = Int32Array.from(ids.map((_, s) => s).sort((a, b) => ids[a] - ids[b]));
    this.#backup = Uint8Array.from(backup, (b) => (b ? 1 : 0));
    this.#allBackups = allBackups;
  }

  /** A server with a slot taken on it, or NO_SERVER / ALL_FULL; `avoid` only as a last resort. */
  pick(slots: ServerSlots, avoid: number): number {
    let group = 0;
    if (!this.#anyUsable(slots, 0)) {
      const fbck = this.#allBackups ? -1 : firstBackup(slots, this.#backup);
      if (fbck >= 0) return slots.reserve(fbck) ? fbck : ALL_FULL;
      if (!this.#anyUsable(slots, 1)) return NO_SERVER;
      group = 1;
    }
    let avoided = -1;
    for (let i = 0; i < this.#order.length; i++) {
      const s = this.#order[i];
      if (this.#backup[s] !== group || !slots.usable(s)) continue;
      if (s === avoid) {
        if (slots.hasSlot(s)) avoided = s;
      } else if (slots.reserve(s)) return s;
    }
    if (avoided >= 0 && slots.reserve(avoided)) return avoided;
    return ALL_FULL;
  }

  #anyUsable(slots: ServerSlots, group: number): boolean {
    for (let s = 0; s < this.#backup.length; s++)
      if (this.#backup[s] === group && slots.usable(s)) return true;
    return false;
  }
}
