/**
 * `balance source` with HAProxy's default `hash-type map-based` (src/lb_map.c and
 * get_server_sh in src/backend.c, the same in 2.6 and 2.9): the client address's hash indexes
 * a map of the usable servers, each present as many times as its weight (weights divided by
 * their greatest common divisor), spread in the order recalc_server_map gives. The map is
 * rebuilt when a server goes up or down, so clients of the other servers move too. The server
 * found is taken even when it is the one to avoid; at its maxconn the session waits for it.
 *
 * The map is a function of which servers are usable, so each worker builds its own copy.
 */
import { ALL_FULL, firstBackup, NO_SERVER, type Picker, type ServerSlots } from './slots.ts';

export class WeightMap implements Picker {
  /** Map weights: user weight / gcd of the user weights (HAProxy wmult), rounded up. */
  readonly #ew: Int32Array;
  readonly #backup: Uint8Array;
  readonly #allBackups: boolean;
  /** Usable servers the map was built for (1 usable, 0 not); 2 before the first build. */
  readonly #built: Uint8Array;
  readonly #wscore: Int32Array;
  readonly #map: Int32Array;
  #totWeight = 0;
  #totUsed = 0;

  constructor(weights: readonly number[], backup: readonly boolean[], allBackups: boolean) {
    let gcd = 1;
    const first = weights.findIndex((w) => w > 0);
    if (first >= 0) {
      gcd = weights[first];
      for (let s = first + 1; gcd > 1 && s < weights.length; s++) {
        let w = weights[s];
        while (w > 0) {
          const t = gcd % w;
          gcd = w;
          w = t;
        }
      }
    }
    this.#ew = Int32Array.from(weights, (w) => Math.ceil(w / gcd));
    this.#backup = Uint8Array.from(backup, (b) => (b ? 1 : 0));
    this.#allBackups = allBackups;
    this.#built = new Uint8Array(weights.length).fill(2);
    this.#wscore = new Int32Array(weights.length);
    let act = 0;
    let bck = 0;
    for (let s = 0; s < weights.length; s++) {
      if (backup[s]) bck += this.#ew[s];
      else act += this.#ew[s];
    }
    this.#map = new Int32Array(Math.max(act, bck, 1));
  }

  /** The server for a client address hash, with a slot taken on it, or NO_SERVER / ALL_FULL. */
  pick(slots: ServerSlots, _avoid: number, hash: number): number {
    let changed = false;
    for (let s = 0; s < this.#built.length; s++) {
      const usable = slots.usable(s) ? 1 : 0;
      if (usable !== this.#built[s]) {
        this.#built[s] = usable;
        changed = true;
      }
    }
    if (changed) this.#recalc(slots);
    if (this.#totWeight === 0) return NO_SERVER;
    // get_server_sh: with one server in use the address is not hashed.
    const h = this.#totUsed === 1 ? 0 : hash >>> 0;
    const s = this.#map[h % this.#totWeight];
    return slots.reserve(s) ? s : ALL_FULL;
  }

  /** HAProxy recount_servers + update_backend_weight + recalc_server_map. */
  #recalc(slots: ServerSlots): void {
    const n = this.#ew.length;
    const ew = this.#ew;
    let act = 0;
    let actWeight = 0;
    let bck = 0;
    let bckWeight = 0;
    for (let s = 0; s < n; s++) {
      if (this.#built[s] === 0) continue;
      if (this.#backup[s] === 1) {
        bck++;
        bckWeight += ew[s];
      } else {
        act++;
        actWeight += ew[s];
      }
    }
    const fbck = this.#allBackups ? -1 : firstBackup(slots, this.#backup);
    if (act > 0) {
      this.#totWeight = actWeight;
      this.#totUsed = act;
    } else if (fbck >= 0) {
      this.#totWeight = ew[fbck];
      this.#totUsed = 1;
    } else {
      this.#totWeight = bckWeight;
      this.#totUsed = bck;
    }
    const tot = this.#totWeight;
    if (this.#totUsed === 0) return;
    const group = act > 0 ? 0 : 1;
    const wscore = this.#wscore.fill(0);
    // Declaration order wins ties, so the first declared server is the map's first entry.
    for (let o = 0; o < tot; o++) {
      let max = 0;
      let best = -1;
      for (let s = 0; s < n; s++) {
        if (this.#backup[s] !== group || this.#built[s] === 0) continue;
        if (tot === 1) {
          best = s;
          break;
        }
        wscore[s] += ew[s];
        const v = Math.trunc((wscore[s] + tot) / tot);
        if (best < 0 || v > max) {
          max = v;
          best = s;
        }
      }
      this.#map[o] = best;
      if (best >= 0) wscore[best] -= tot;
    }
  }
}

const words = new Int32Array(8);

/**
 * HAProxy's source hash of a client's `address:port` (get_server_sh): the address's 32-bit
 * words, big-endian, XORed (an IPv4 address is its one word). Not an IP (a unix socket): 0.
 */
export function sourceHash(address: string): number {
  const end = address.lastIndexOf(':');
  const len = end < 0 ? address.length : end;
  if (address.indexOf(':') === end) return Math.max(0, ipv4Word(address, 0, len));
  if (!ipv6Groups(address, len)) return 0;
  let h = 0;
  for (let k = 0; k < 8; k += 2) h ^= (words[k] << 16) | words[k + 1];
  return h >>> 0;
}

/** The IPv4 address in `text[from, to)` as one unsigned word; -1 when it is not one. */
function ipv4Word(text: string, from: number, to: number): number {
  let word = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      word = (word << 8) | part;
      part = 0;
      digits = 0;
    } else if (ch >= 48 && ch <= 57 && digits < 3) {
      part = part * 10 + ch - 48;
      digits++;
      if (part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return ((word << 8) | part) >>> 0;
}

/** The eight groups of the IPv6 address in `text[0, len)` into `words`; false when it is not one. */
function ipv6Groups(text: string, len: number): boolean {
  words.fill(0);
  let g = 0;
  let gap = -1;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < len; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 58) {
      if (i + 1 < len && text.charCodeAt(i + 1) === 58) {
        if (gap >= 0) return false;
        if (digits > 0) words[g++] = value;
        gap = g;
        i++;
      } else if (digits > 0) words[g++] = value;
      else if (i !== 0) return false;
      value = 0;
      digits = 0;
      if (g > 8) return false;
      continue;
    }
    if (ch === 46) {
      // An IPv4 tail (::ffff:127.0.0.1): its two groups from the text after the last colon.
      const start = i - digits;
      const v4 = ipv4Word(text, start, len);
      if (v4 < 0 || g > 6) return false;
      words[g++] = v4 >>> 16;
      words[g++] = v4 & 0xffff;
      digits = 0;
      break;
    }
    const hex =
      ch >= 48 && ch <= 57
        ? ch - 48
        : ch >= 97 && ch <= 102
          ? ch - 87
          : ch >= 65 && ch <= 70
            ? ch - 55
            : -1;
    if (hex < 0 || digits === 4) return false;
    value = (value << 4) | hex;
    digits++;
  }
  if (digits > 0) {
    if (g >= 8) return false;
    words[g++] = value;
  }
  if (gap < 0) return g === 8;
  if (g === 8) return false;
  // Shift the groups after "::" to the end.
  const tail = g - gap;
  for (let k = 0; k < tail; k++) words[7 - k] = words[g - 1 - k];
  for (let k = gap; k < 8 - tail; k++) words[k] = 0;
  return true;
}
