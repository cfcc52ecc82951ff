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
 * One pool's numbers in one worker: plain counters bumped on the hot path, and an HDR
 * histogram of request latency. Recording allocates nothing.
 */
export class PoolStats {
  readonly counters: PoolCounters = emptyPoolCounters();
  readonly latency: Histogram = latencyHistogram();

  /** A reply handed back to its client, `micros` after its request was read. */
  replied(micros: number): void {
    this.counters.requests++;
    recordMicros(this.latency, micros);
  }

  encodeLatency(): string {
    return encodeHistogram(this.latency);
  }
}

/** One server's numbers in one worker: its counters and its round-trip histogram. */
export class ServerStats {
  readonly counters: ServerCounters = emptyServerCounters();
  readonly latency: Histogram = latencyHistogram();

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
    return encodeHistogram(this.latency);
  }
}
