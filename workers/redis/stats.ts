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
 * Numbers with an HDR latency histogram. Its encoding for a snapshot is redone only when it
 * recorded something since: encoding takes about 0.4 ms on the worker thread, every stats
 * interval, for each pool and server.
 */
export class LatencyStats {
  readonly latency: Histogram = latencyHistogram();
  #encodedCount = -1;
  #encoded = '';

  encodeLatency(): string {
    if (this.latency.totalCount !== this.#encodedCount) {
      this.#encoded = encodeHistogram(this.latency);
      this.#encodedCount = this.latency.totalCount;
    }
    return this.#encoded;
  }
}

/**
 * One pool's numbers in one worker: plain counters bumped on the hot path, and an HDR
 * histogram of request latency. Recording allocates nothing.
 */
export class PoolStats extends LatencyStats {
  readonly counters: PoolCounters = emptyPoolCounters();

  /** A reply handed back to its client, `micros` after its request was read. */
  replied(micros: number): void {
    this.counters.requests++;
    recordMicros(this.latency, micros);
  }
}

/** One server's numbers in one worker: its counters and its round-trip histogram. */
export class ServerStats extends LatencyStats {
  readonly counters: ServerCounters = emptyServerCounters();

  sent(bytes: number): void {
    this.counters.requests++;
    this.counters.request_bytes += bytes;
  }

  received(bytes: number, micros: number): void {
    this.counters.responses++;
    this.counters.response_bytes += bytes;
    recordMicros(this.latency, micros);
  }
}
