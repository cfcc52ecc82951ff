/**
 * The breaker's numbers for /stats and /metrics, read by the main thread straight from each
 * guarded upstream's shared memory (no worker snapshot needed: every worker counts there).
 * Names follow Envoy's cluster stats (upstream_cx_overflow, circuit_breakers.default.rq_open,
 * remaining_*, outlier_detection.ejections_*) so dashboards translate.
 */
import type { GuardState } from '../health/guard-state.ts';
import { C, CIRCUIT_STATES, CLOSED, H, K } from '../shared/breaker-memory.ts';
import { Circuits } from '../shared/circuit.ts';
import { Exposition } from './prometheus.ts';

export interface CircuitJson {
  readonly name: string;
  readonly state: (typeof CIRCUIT_STATES)[number];
  /** When an open circuit lets its first probe through (ISO time); null unless open. */
  readonly next_probe_at: string | null;
  readonly next_probe_in_ms: number | null;
  readonly probes_left: number;
  readonly window: { readonly calls: number; readonly failed: number; readonly slow: number };
  readonly rejected: number;
  readonly transitions: {
    readonly to_open: number;
    readonly to_half_open: number;
    readonly to_closed: number;
  };
}

export interface BreakerJson {
  readonly upstream: string;
  readonly upstream_cx_active: number;
  readonly upstream_rq_active: number;
  readonly upstream_rq_pending_active: number;
  readonly upstream_rq_retry_active: number;
  readonly upstream_cx_overflow: number;
  readonly upstream_rq_pending_overflow: number;
  readonly upstream_rq_retry_overflow: number;
  /** Envoy's circuit_breakers.default gauges: 1 while a limit is reached; remaining_* with track_remaining. */
  readonly circuit_breakers: Record<string, number> | null;
  readonly outlier_detection: Record<string, number> | null;
  readonly no_healthy_upstream: number;
  readonly panic: number;
  readonly hosts: readonly {
    readonly name: string;
    readonly ejected: boolean;
    readonly times_ejected: number;
    readonly ejected_at: string | null;
    readonly cx_active: number;
    readonly rq_active: number;
  }[];
  readonly circuits: readonly CircuitJson[];
}

function circuitsOf(s: GuardState): Circuits | null {
  return s.guard.breaker === null ? null : new Circuits(s.mem, s.guard.breaker, () => {});
}

export function breakerJson(s: GuardState, nowMs: number): BreakerJson {
  const m = s.mem;
  const limits = s.guard.limits?.default ?? null;
  const cx = m.load(C.CX);
  const pending = m.load(C.PENDING);
  const rq = m.load(C.RQ);
  const retries = m.load(C.RETRIES);
  let circuitBreakers: Record<string, number> | null = null;
  if (limits !== null) {
    circuitBreakers = {
      cx_open: cx >= limits.maxConnections ? 1 : 0,
      rq_pending_open: pending >= limits.maxPendingRequests ? 1 : 0,
      rq_open: rq >= limits.maxRequests ? 1 : 0,
      rq_retry_open: retries >= limits.maxRetries ? 1 : 0,
    };
    if (limits.trackRemaining) {
      circuitBreakers.remaining_cx = Math.max(0, limits.maxConnections - cx);
      circuitBreakers.remaining_pending = Math.max(0, limits.maxPendingRequests - pending);
      circuitBreakers.remaining_rq = Math.max(0, limits.maxRequests - rq);
      circuitBreakers.remaining_retries = Math.max(0, limits.maxRetries - retries);
    }
  }
  const outlier =
    s.guard.outlier === null
      ? null
      : {
          ejections_active: m.load(C.EJECTIONS_ACTIVE),
          ejections_enforced_total: m.load(C.EJECTIONS_ENFORCED),
          ejections_overflow: m.load(C.EJECTIONS_OVERFLOW),
          ejections_detected_consecutive_5xx: m.load(C.DETECTED_5XX),
          ejections_enforced_consecutive_5xx: m.load(C.ENFORCED_5XX),
          ejections_detected_consecutive_gateway_failure: m.load(C.DETECTED_GATEWAY),
          ejections_enforced_consecutive_gateway_failure: m.load(C.ENFORCED_GATEWAY),
          ejections_detected_consecutive_local_origin_failure: m.load(C.DETECTED_LOCAL),
          ejections_enforced_consecutive_local_origin_failure: m.load(C.ENFORCED_LOCAL),
          ejections_detected_success_rate: m.load(C.DETECTED_SUCCESS_RATE),
          ejections_enforced_success_rate: m.load(C.ENFORCED_SUCCESS_RATE),
          ejections_detected_failure_percentage: m.load(C.DETECTED_FAILURE_PERCENT),
          ejections_enforced_failure_percentage: m.load(C.ENFORCED_FAILURE_PERCENT),
        };
  const circuits = circuitsOf(s);
  const names =
    s.guard.breaker?.scope === 'host' ? s.upstream.servers.map((h) => h.name) : [s.upstream.name];
  return {
    upstream: s.upstream.name,
    upstream_cx_active: cx,
    upstream_rq_active: rq,
    upstream_rq_pending_active: pending,
    upstream_rq_retry_active: retries,
    upstream_cx_overflow: m.load(C.CX_OVERFLOW),
    upstream_rq_pending_overflow: m.load(C.PENDING_OVERFLOW),
    upstream_rq_retry_overflow: m.load(C.RETRY_OVERFLOW),
    circuit_breakers: circuitBreakers,
    outlier_detection: outlier,
    no_healthy_upstream: m.load(C.NO_HEALTHY),
    panic: m.load(C.PANIC),
    hosts: s.upstream.servers.map((h, i) => ({
      name: h.name,
      ejected: m.isEjected(i),
      times_ejected: m.load(m.h(i, H.TIMES_EJECTED)),
      ejected_at: m.isEjected(i) ? new Date(m.ejectedAt(i)).toISOString() : null,
      cx_active: m.load(m.h(i, H.CX)),
      rq_active: m.load(m.h(i, H.RQ)),
    })),
    circuits:
      circuits === null
        ? []
        : names.map((name, i) => {
            const next = circuits.nextProbeAt(i);
            const [calls, failed, slow] = circuits.window(i, nowMs);
            const state = circuits.state(i);
            return {
              name,
              state: CIRCUIT_STATES[state],
              next_probe_at: next === 0 ? null : new Date(next).toISOString(),
              next_probe_in_ms: next === 0 ? null : Math.max(0, Math.round(next - nowMs)),
              probes_left: state === CLOSED ? 0 : m.load(m.k(i, K.PROBES_LEFT)),
              window: { calls, failed, slow },
              rejected: m.load(m.k(i, K.REJECTED)),
              transitions: {
                to_open: m.load(m.k(i, K.TO_OPEN)),
                to_half_open: m.load(m.k(i, K.TO_HALF_OPEN)),
                to_closed: m.load(m.k(i, K.TO_CLOSED)),
              },
            };
          }),
  };
}

/** The breaker families of /metrics. */
export function breakerPrometheus(states: readonly GuardState[], nowMs: number): string {
  const x = new Exposition();
  const all = states.map((s) => breakerJson(s, nowMs));
  const per = (
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    rows: (b: BreakerJson) => [Record<string, string | number>, number][],
  ) =>
    x.family(name, type, help, () => {
      for (const b of all)
        for (const [l, v] of rows(b)) x.sample(name, { upstream: b.upstream, ...l }, v);
    });
  per(
    'legate_http_breaker_active',
    'gauge',
    'Open connections, pending and active requests, active retries, over all workers.',
    (b) => [
      [{ resource: 'cx' }, b.upstream_cx_active],
      [{ resource: 'pending' }, b.upstream_rq_pending_active],
      [{ resource: 'rq' }, b.upstream_rq_active],
      [{ resource: 'retries' }, b.upstream_rq_retry_active],
    ],
  );
  per(
    'legate_http_breaker_overflow_total',
    'counter',
    "Envoy's upstream_cx_overflow, upstream_rq_pending_overflow, upstream_rq_retry_overflow.",
    (b) => [
      [{ resource: 'cx' }, b.upstream_cx_overflow],
      [{ resource: 'pending' }, b.upstream_rq_pending_overflow],
      [{ resource: 'retries' }, b.upstream_rq_retry_overflow],
    ],
  );
  per(
    'legate_http_breaker_limit',
    'gauge',
    "Envoy's circuit_breakers.default gauges: *_open is 1 while the limit is reached; remaining_* with track_remaining.",
    (b) => Object.entries(b.circuit_breakers ?? {}).map(([k, v]) => [{ gauge: k }, v]),
  );
  per(
    'legate_http_outlier',
    'gauge',
    "Envoy's outlier_detection stats (ejections_active is a gauge; the rest count since start).",
    (b) => Object.entries(b.outlier_detection ?? {}).map(([k, v]) => [{ stat: k }, v]),
  );
  per(
    'legate_http_host_ejected',
    'gauge',
    'A host ejected by outlier detection (1) or not (0).',
    (b) => b.hosts.map((h) => [{ host: h.name }, h.ejected ? 1 : 0]),
  );
  per(
    'legate_http_circuit_state',
    'gauge',
    'Classic breaker state: 0 closed, 1 open, 2 half-open.',
    (b) => b.circuits.map((c) => [{ circuit: c.name }, CIRCUIT_STATES.indexOf(c.state)]),
  );
  per(
    'legate_http_circuit_transitions_total',
    'counter',
    'Classic breaker transitions, by the state entered.',
    (b) =>
      b.circuits.flatMap((c) => [
        [{ circuit: c.name, to: 'open' }, c.transitions.to_open] as [
          Record<string, string>,
          number,
        ],
        [{ circuit: c.name, to: 'half_open' }, c.transitions.to_half_open],
        [{ circuit: c.name, to: 'closed' }, c.transitions.to_closed],
      ]),
  );
  per(
    'legate_http_circuit_rejected_total',
    'counter',
    'Calls answered 503 at once by an open (or full half-open) circuit.',
    (b) => b.circuits.map((c) => [{ circuit: c.name }, c.rejected]),
  );
  per(
    'legate_http_circuit_next_probe_seconds',
    'gauge',
    'Seconds until an open circuit lets its first probe through (0 unless open).',
    (b) => b.circuits.map((c) => [{ circuit: c.name }, (c.next_probe_in_ms ?? 0) / 1000]),
  );
  return x.toString();
}
