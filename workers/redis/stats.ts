import {
  encodeHistogram,
  type Histogram,
  latencyHistogram,
  recordMicros,
} from '../../engine/metrics/histogram.ts';
import {
  emptyPoolCounters,
  emptyServerCounters,
  type PoolCounters,
  type ServerCounters,
} from '../../engine/metrics/snapshot.ts';

/**
 * A histogram's encoding, redone only when it recorded something since: encoding takes about
 * 0.4 ms on the worker thread, every stats interval, for each pool and server.
 */
class EncodedLatency {
  #count = -1;
  #text = '';

  of(h: Histogram): string {
    if (h.totalCount !== this.#count) {
      this.#text = encodeHistogram(h);
      this.#count = h.totalCount;
    }
    return this.#text;
  }
}

/**
 * One pool's numbers in one worker: plain counters bumped on the hot path, and an HDR
 * histogram of request latency. Recording allocates nothing.
 */
export class PoolStats {
  readonly counters: PoolCounters = emptyPoolCounters();
  readonly latency: Histogram = latencyHistogram();
  readonly #encoded = new EncodedLatency();

  /** A reply handed back to its client, `micros` after its request was read. */
  replied(micros: number): void {
    this.counters.requests++;
    recordMicros(this.latency, micros);
  }

  encodeLatency(): string {
    return this.#encoded.of(this.latency);
  }
}

/** One server's numbers in one worker: its counters and its round-trip histogram. */
export class ServerStats {
  readonly counters: ServerCounters = emptyServerCounters();
  readonly latency: Histogram = latencyHistogram();
  readonly #encoded = new EncodedLatency();

  sent(bytes: number): void {
    this.counters.requests++;
    this.counters.request_bytes += bytes;
  }

  received(bytes: number, micros: number): void {
    this.counters.responses++;
    this.counters.response_bytes += bytes;
    recordMicros(this.latency, micros);
  }

  encodeLatency(): string {
    return this.#encoded.of(this.latency);
  }
}
