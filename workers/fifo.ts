/** A growable ring-buffer queue: O(1) push and shift without Array#shift's copying. */
export class Fifo<T> {
  // Nothing until the first push: an idle connection's queues cost no array.
  #items: (T | undefined)[] = NONE as (T | undefined)[];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item;
    this.#size++;
  }

  /** The oldest item, or undefined when empty. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#size--;
    return item;
  }

  #grow(): void {
    const old = this.#items;
    const next: (T | undefined)[] = new Array(old.length === 0 ? 8 : old.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = next;
    this.#head = 0;
  }
}

const NONE: unknown[] = [];

/** Fifo of numbers in a Float64Array: no boxed number per push on the hot path. */
export class NumberFifo {
  #items = new Float64Array(0);
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(n: number): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = n;
    this.#size++;
  }

  /** The oldest number, or NaN when empty. */
  peek(): number {
    return this.#size === 0 ? Number.NaN : this.#items[this.#head];
  }

  /** Removes and returns the oldest number, or NaN when empty. */
  shift(): number {
    if (this.#size === 0) return Number.NaN;
    const n = this.#items[this.#head];
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#size--;
    return n;
  }

  #grow(): void {
    const old = this.#items;
    const next = new Float64Array(old.length === 0 ? 8 : old.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = next;
    this.#head = 0;
  }
}
