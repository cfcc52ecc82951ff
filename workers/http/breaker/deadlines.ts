import { performance } from 'node:perf_hooks';

/**
 * One pending deadline (a route or per-try timeout), kept by its owner and re-armed for each
 * try: arming and disarming only link and unlink it, no Node timer is made or cleared per
 * request.
 */
export class Deadline<T> {
  readonly target: T;
  readonly onExpire: (target: T) => void;
  at = 0;
  prev: Deadline<T> | null = null;
  next: Deadline<T> | null = null;
  list: DeadlineList | null = null;

  /** `onExpire`: one shared function that gets the target (no closure per request). */
  constructor(target: T, onExpire: (target: T) => void) {
    this.target = target;
    this.onExpire = onExpire;
  }

  get armed(): boolean {
    return this.list !== null;
  }

  /** Expires in `ms` (replacing any earlier arming). */
  arm(ms: number): void {
    this.disarm();
    listFor(ms).push(this as Deadline<unknown>);
  }

  disarm(): void {
    this.list?.remove(this as Deadline<unknown>);
  }
}

/**
 * The deadlines of one duration, in the order they were armed, which is also the order they
 * expire: one Node timer for the whole list, set for its head. A deadline disarmed before the
 * timer fires just leaves the list; the timer, when it comes, expires what is due and re-arms
 * for the next head (Node keeps its own timers the same way, one list per duration, but makes a
 * Timeout object and calls into libuv's clock for every setTimeout).
 */
class DeadlineList {
  readonly #ms: number;
  #head: Deadline<unknown> | null = null;
  #tail: Deadline<unknown> | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(ms: number) {
    this.#ms = ms;
  }

  push(d: Deadline<unknown>): void {
    d.at = performance.now() + this.#ms;
    d.list = this;
    d.prev = this.#tail;
    d.next = null;
    if (this.#tail === null) this.#head = d;
    else this.#tail.next = d;
    this.#tail = d;
    if (this.#timer === null) this.#schedule(d.at);
  }

  remove(d: Deadline<unknown>): void {
    if (d.prev === null) this.#head = d.next;
    else d.prev.next = d.next;
    if (d.next === null) this.#tail = d.prev;
    else d.next.prev = d.prev;
    d.prev = null;
    d.next = null;
    d.list = null;
  }

  #schedule(at: number): void {
    // Unref'd: what is in flight keeps the worker alive by its sockets, not by its timeout.
    this.#timer = setTimeout(DeadlineList.#fire, Math.max(1, at - performance.now()), this);
    this.#timer.unref();
  }

  static #fire(list: DeadlineList): void {
    list.#timer = null;
    list.#expireDue();
  }

  #expireDue(): void {
    const now = performance.now();
    let d = this.#head;
    while (d !== null && d.at <= now) {
      this.remove(d);
      d.onExpire(d.target);
      // onExpire may disarm or re-arm others: start again from the current head.
      d = this.#head;
    }
    if (d !== null && this.#timer === null) this.#schedule(d.at);
  }
}

/** One list per duration in this worker; a config has few distinct timeouts. */
const lists = new Map<number, DeadlineList>();

function listFor(ms: number): DeadlineList {
  let list = lists.get(ms);
  if (list === undefined) {
    list = new DeadlineList(ms);
    lists.set(ms, list);
  }
  return list;
}
