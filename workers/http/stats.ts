import { recordMicros } from '../../engine/metrics/histogram.ts';
import {
  emptyHttpListenerCounters,
  emptyHttpServerCounters,
  emptyHttpUpstreamCounters,
  type HttpListenerCounters,
  type HttpServerCounters,
  type HttpStatusCounters,
  type HttpUpstreamCounters,
} from '../../engine/metrics/http-snapshot.ts';
import { LatencyStats } from '../redis/stats.ts';

/** Counts one answered request in its status class. */
export function countStatus(c: HttpStatusCounters, status: number): void {
  c.requests++;
  if (status < 200) c.status_1xx++;
  else if (status < 300) c.status_2xx++;
  else if (status < 400) c.status_3xx++;
  else if (status < 500) c.status_4xx++;
  else c.status_5xx++;
}

/** One upstream's numbers in one worker. Recording allocates nothing. */
export class UpstreamStats extends LatencyStats {
  readonly counters: HttpUpstreamCounters = emptyHttpUpstreamCounters();

  answered(status: number, requestBytes: number, responseBytes: number, micros: number): void {
    const c = this.counters;
    countStatus(c, status);
    c.request_bytes += requestBytes;
    c.response_bytes += responseBytes;
    // A tunnel's lifetime is not a request's latency: it is counted, not timed (-1).
    if (micros >= 0) recordMicros(this.latency, micros);
  }
}

/** One server's numbers in one worker: every try, and its time to the response head. */
export class HttpServerStats extends LatencyStats {
  readonly counters: HttpServerCounters = emptyHttpServerCounters();

  headed(micros: number): void {
    recordMicros(this.latency, micros);
  }

  finished(status: number, requestBytes: number, responseBytes: number): void {
    const c = this.counters;
    countStatus(c, status);
    c.request_bytes += requestBytes;
    c.response_bytes += responseBytes;
  }
}

/** Every request a listener answered; `rejected` are the ones no upstream saw. */
export class ListenerStats {
  readonly counters: HttpListenerCounters = emptyHttpListenerCounters();

  answered(status: number, requestBytes: number, responseBytes: number): void {
    const c = this.counters;
    countStatus(c, status);
    c.request_bytes += requestBytes;
    c.response_bytes += responseBytes;
  }

  rejected(status: number, requestBytes: number, responseBytes: number): void {
    this.answered(status, requestBytes, responseBytes);
    this.counters.rejected++;
  }
}
