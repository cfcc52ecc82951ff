/**
 * HAProxy's check counter for one server: `fall` consecutive failures mark an UP server DOWN,
 * `rise` consecutive passes mark a DOWN server UP. A server starts UP but, as in HAProxy
 * ("up, but will fall down at first failure"), goes DOWN on its first failure until it has
 * passed once.
 */
export class RiseFall {
  readonly #rise: number;
  readonly #fall: number;
  up = true;
  #proven = false;
  #streak = 0;

  constructor(rise: number, fall: number) {
    this.#rise = rise;
    this.#fall = fall;
  }

  /** Records one check; returns true when the state changed. */
  record(ok: boolean): boolean {
    if (this.up) {
      if (ok) {
        this.#proven = true;
        this.#streak = 0;
        return false;
      }
      this.#streak++;
      if (this.#proven && this.#streak < this.#fall) return false;
      this.up = false;
      this.#streak = 0;
      return true;
    }
    if (!ok) {
      this.#streak = 0;
      return false;
    }
    this.#streak++;
    if (this.#streak < this.#rise) return false;
    this.up = true;
    this.#proven = true;
    this.#streak = 0;
    return true;
  }
}
