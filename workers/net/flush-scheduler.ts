/** Something with output collected over a turn. */
export interface Flushable {
  flush(): void;
}

/** Flushes every stream that got bytes this turn, once, from one setImmediate per turn. */
export class FlushScheduler {
  #queue: Flushable[] = [];
  #spare: Flushable[] = [];
  #scheduled = false;
  readonly #run = (): void => this.#flushAll();

  queue(stream: Flushable): void {
    this.#queue.push(stream);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }

  #flushAll(): void {
    this.#scheduled = false;
    const streams = this.#queue;
    this.#queue = this.#spare;
    for (let i = 0; i < streams.length; i++) streams[i].flush();
    streams.length = 0;
    this.#spare = streams;
  }
}
