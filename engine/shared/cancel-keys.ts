/**
 * PostgreSQL cancel keys → the server that issued them, in a SharedArrayBuffer every worker
 * reads and writes: a CancelRequest arrives on a new connection, often at another worker than
 * the session it cancels, and must be routed at once. Shared memory rather than a main-thread
 * registry: a lookup then costs no message round trip, and a session start posts no message.
 *
 * Open addressing, linear probing, Int32 × 4 per slot: [STATE, PID, KEY, SERVER]. STATE: 0
 * empty, 1 being written, 2 valid, 3 removed (reused by inserts, skipped by lookups). A full
 * table loses nothing but precision: the cancel is then sent to every server of the backend.
 */
const SLOT = 4;
const EMPTY = 0;
const WRITING = 1;
const VALID = 2;
const REMOVED = 3;
/** How far a lookup or insert probes before giving up. */
const PROBES = 64;

export function allocateCancelKeys(slots: number): SharedArrayBuffer {
  let n = 1024;
  while (n < slots) n *= 2;
  return new SharedArrayBuffer(n * SLOT * 4);
}

function hash(pid: number, key: number): number {
  return Math.imul(pid ^ Math.imul(key, 0x9e3779b1), 0x85ebca6b) >>> 0;
}

export class CancelKeys {
  readonly #c: Int32Array;
  readonly #mask: number;

  constructor(sab: SharedArrayBuffer) {
    this.#c = new Int32Array(sab);
    this.#mask = this.#c.length / SLOT - 1;
  }

  /** Records that `server` issued (pid, key); returns the slot to remove it by, or -1 if full. */
  add(pid: number, key: number, server: number): number {
    const start = hash(pid, key);
    for (let p = 0; p < PROBES; p++) {
      const slot = (start + p) & this.#mask;
      const at = slot * SLOT;
      const state = Atomics.load(this.#c, at);
      if (state !== EMPTY && state !== REMOVED) continue;
      if (Atomics.compareExchange(this.#c, at, state, WRITING) !== state) continue;
      Atomics.store(this.#c, at + 1, pid);
      Atomics.store(this.#c, at + 2, key);
      Atomics.store(this.#c, at + 3, server);
      Atomics.store(this.#c, at, VALID);
      return slot;
    }
    return -1;
  }

  /** The server that issued (pid, key), or -1 when not known. */
  find(pid: number, key: number): number {
    const start = hash(pid, key);
    for (let p = 0; p < PROBES; p++) {
      const at = ((start + p) & this.#mask) * SLOT;
      const state = Atomics.load(this.#c, at);
      if (state === EMPTY) return -1;
      if (state !== VALID) continue;
      if (Atomics.load(this.#c, at + 1) === pid && Atomics.load(this.#c, at + 2) === key)
        return Atomics.load(this.#c, at + 3);
    }
    return -1;
  }

  remove(slot: number): void {
    if (slot >= 0) Atomics.store(this.#c, slot * SLOT, REMOVED);
  }
}
