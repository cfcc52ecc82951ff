import type { Socket } from 'node:net';

/**
 * Outgoing bytes of one socket, collected over an event-loop turn and written at its end in one
 * `write` (small slices are copied into one buffer; large ones go as they are, corked). Per
 * DESIGN.md: writing once per turn rather than per request is what makes pipelining pay.
 */
export class WriteBatch {
  readonly #socket: Socket;
  // Parallel arrays of (buffer, start, end): queuing a range allocates no view.
  #bufs: Buffer[] = [];
  #starts: number[] = [];
  #ends: number[] = [];
  #bytes = 0;
  #scheduler: FlushScheduler;
  #queued = false;

  constructor(socket: Socket, scheduler: FlushScheduler) {
    this.#socket = socket;
    this.#scheduler = scheduler;
  }

  get pendingBytes(): number {
    return this.#bytes;
  }

  /** Parts (whole requests or replies) collected this turn, not yet written. */
  get pendingParts(): number {
    return this.#bufs.length;
  }

  push(bytes: Buffer): void {
    this.pushRange(bytes, 0, bytes.length);
  }

  pushRange(buf: Buffer, start: number, end: number): void {
    this.#bufs.push(buf);
    this.#starts.push(start);
    this.#ends.push(end);
    this.#bytes += end - start;
    if (!this.#queued) {
      this.#queued = true;
      this.#scheduler.queue(this);
    }
  }

  /** Writes what was collected. Called by the scheduler once per turn. */
  flush(): void {
    this.#queued = false;
    const bufs = this.#bufs;
    const n = bufs.length;
    if (n === 0) return;
    const starts = this.#starts;
    const ends = this.#ends;
    const total = this.#bytes;
    this.#bytes = 0;
    const socket = this.#socket;
    if (!socket.destroyed) {
      if (n === 1) {
        socket.write(bufs[0].subarray(starts[0], ends[0]));
      } else if (total <= COPY_LIMIT) {
        const out = Buffer.allocUnsafe(total);
        let pos = 0;
        for (let i = 0; i < n; i++) {
          pos += bufs[i].copy(out, pos, starts[i], ends[i]);
        }
        socket.write(out);
      } else {
        socket.cork();
        for (let i = 0; i < n; i++) socket.write(bufs[i].subarray(starts[i], ends[i]));
        socket.uncork();
      }
    }
    bufs.length = 0;
    starts.length = 0;
    ends.length = 0;
  }
}

/** Above this a batch is written slice by slice (corked) rather than copied into one buffer. */
const COPY_LIMIT = 256 * 1024;

/** Flushes every batch that got bytes this turn, once, from one setImmediate per turn. */
export class FlushScheduler {
  #queue: WriteBatch[] = [];
  #spare: WriteBatch[] = [];
  #scheduled = false;
  readonly #run = (): void => this.#flushAll();

  queue(batch: WriteBatch): void {
    this.#queue.push(batch);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }

  #flushAll(): void {
    this.#scheduled = false;
    const batches = this.#queue;
    this.#queue = this.#spare;
    for (let i = 0; i < batches.length; i++) batches[i].flush();
    batches.length = 0;
    this.#spare = batches;
  }
}
