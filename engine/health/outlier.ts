/**
 * Envoy's outlier detection (source/common/upstream/outlier_detection_impl.cc) over shared
 * memory. Workers call `recordResult` after each try; a consecutive-error ejection happens at
 * once, by whichever worker saw the error that reached the threshold (Envoy posts it to its main
 * thread; here a CAS on the ejection count keeps max_ejection_percent strict across workers).
 * `outlierTick` is Envoy's interval timer: releases, backoff, success rate, failure percentage.
 * It runs on the main thread, one timer per guarded upstream (see OutlierTicker): one writer for
 * the interval counters it resets, and no worker's event loop delays it.
 */
import type { OutlierDetectionConfig } from '../config/http-types.ts';
import { type BreakerMemory, C, H } from '../shared/breaker-memory.ts';

export type Ejection =
  | 'consecutive_5xx'
  | 'gateway_failure'
  | 'local_origin'
  | 'success_rate'
  | 'failure_percentage';

const COUNTERS: Readonly<Record<Ejection, readonly [detected: number, enforced: number]>> = {
  consecutive_5xx: [C.DETECTED_5XX, C.ENFORCED_5XX],
  gateway_failure: [C.DETECTED_GATEWAY, C.ENFORCED_GATEWAY],
  local_origin: [C.DETECTED_LOCAL, C.ENFORCED_LOCAL],
  success_rate: [C.DETECTED_SUCCESS_RATE, C.ENFORCED_SUCCESS_RATE],
  failure_percentage: [C.DETECTED_FAILURE_PERCENT, C.ENFORCED_FAILURE_PERCENT],
};

/** What happened to one try, as outlier detection sees it. */
export const LOCAL_CONNECT_FAILURE = -1;
export const LOCAL_TIMEOUT = -2;

/** 0 ≤ value < 100, like Envoy's runtime feature roll. */
export type Roll = () => number;
export const roll: Roll = () => Math.random() * 100;

/** Envoy's featureEnabled(percent). */
function enforced(percent: number, dice: Roll): boolean {
  return percent >= 100 || (percent > 0 && dice() < percent);
}

/**
 * Ejects `host` if max_ejection_percent allows: `100 × (ejected + 1) / hosts ≤ max`, or the
 * cluster has none ejected and always_eject_one_host. Not enforced: counted as detected only.
 */
export function ejectHost(
  mem: BreakerMemory,
  cfg: OutlierDetectionConfig,
  host: number,
  type: Ejection,
  enforce: boolean,
  nowMs: number,
): boolean {
  const hosts = mem.layout.hosts;
  const [detected, enforcedCell] = COUNTERS[type];
  const active = mem.c(C.EJECTIONS_ACTIVE);
  for (;;) {
    const ejected = mem.load(active);
    const allowed =
      (100 * (ejected + 1)) / hosts <= Math.min(100, cfg.maxEjectionPercent) ||
      (cfg.alwaysEjectOneHost && ejected === 0);
    if (!allowed) {
      mem.add(C.EJECTIONS_OVERFLOW, 1);
      return false;
    }
    if (!enforce) {
      mem.add(detected, 1);
      return false;
    }
    if (Atomics.compareExchange(mem.cells, active, ejected, ejected + 1) !== ejected) continue;
    // Only one thread ejects a host: a host already ejected gives its count back.
    if (Atomics.compareExchange(mem.cells, mem.h(host, H.EJECTED), 0, 1) !== 0) {
      mem.release(active);
      return false;
    }
    mem.setEjectedAt(host, nowMs);
    mem.add(mem.h(host, H.TIMES_EJECTED), 1);
    const backoff = mem.load(mem.h(host, H.BACKOFF));
    if (backoff * cfg.baseEjectionTimeMs < cfg.maxEjectionTimeMs + cfg.baseEjectionTimeMs)
      mem.add(mem.h(host, H.BACKOFF), 1);
    mem.add(C.EJECTIONS_ENFORCED, 1);
    mem.add(enforcedCell, 1);
    mem.add(detected, 1);
    return true;
  }
}

/** A consecutive counter reached its threshold: Envoy ejects (or not) and resets the counter. */
function consecutive(
  mem: BreakerMemory,
  cfg: OutlierDetectionConfig,
  host: number,
  type: Ejection,
  cell: number,
  enforcing: number,
  nowMs: number,
  dice: Roll,
): boolean {
  Atomics.store(mem.cells, mem.h(host, cell), 0);
  if (mem.isEjected(host)) return false;
  return ejectHost(mem, cfg, host, type, enforced(enforcing, dice), nowMs);
}

/**
 * One try's outcome: an HTTP status, or LOCAL_CONNECT_FAILURE / LOCAL_TIMEOUT (which count as
 * 503 and 504 unless split_external_local_origin_errors). Returns true when it ejected the host.
 * Counting uses `==` on the threshold like Envoy, so one burst notifies once.
 */
export function recordResult(
  mem: BreakerMemory,
  cfg: OutlierDetectionConfig,
  host: number,
  result: number,
  nowMs: number,
  dice: Roll = roll,
): boolean {
  let status = result;
  if (result < 0) {
    if (cfg.splitExternalLocalOriginErrors) {
      const n = mem.add(mem.h(host, H.CONSECUTIVE_LOCAL), 1) + 1;
      if (n === cfg.consecutiveLocalOriginFailure)
        return consecutive(
          mem,
          cfg,
          host,
          'local_origin',
          H.CONSECUTIVE_LOCAL,
          cfg.enforcingConsecutiveLocalOriginFailure,
          nowMs,
          dice,
        );
      return false;
    }
    status = result === LOCAL_TIMEOUT ? 504 : 503;
  } else if (cfg.splitExternalLocalOriginErrors) {
    // A response came: the connection worked.
    Atomics.store(mem.cells, mem.h(host, H.CONSECUTIVE_LOCAL), 0);
  }
  mem.add(mem.h(host, H.INTERVAL_TOTAL), 1);
  if (status < 500) {
    // A load first: the common case writes nothing.
    if (mem.load(mem.h(host, H.CONSECUTIVE_5XX)) !== 0)
      Atomics.store(mem.cells, mem.h(host, H.CONSECUTIVE_5XX), 0);
    if (mem.load(mem.h(host, H.CONSECUTIVE_GATEWAY)) !== 0)
      Atomics.store(mem.cells, mem.h(host, H.CONSECUTIVE_GATEWAY), 0);
    return false;
  }
  mem.add(mem.h(host, H.INTERVAL_FAILED), 1);
  let ejected = false;
  if (status >= 502 && status <= 504) {
    const n = mem.add(mem.h(host, H.CONSECUTIVE_GATEWAY), 1) + 1;
    if (n === cfg.consecutiveGatewayFailure)
      ejected = consecutive(
        mem,
        cfg,
        host,
        'gateway_failure',
        H.CONSECUTIVE_GATEWAY,
        cfg.enforcingConsecutiveGatewayFailure,
        nowMs,
        dice,
      );
  } else {
    Atomics.store(mem.cells, mem.h(host, H.CONSECUTIVE_GATEWAY), 0);
  }
  const n = mem.add(mem.h(host, H.CONSECUTIVE_5XX), 1) + 1;
  if (n === cfg.consecutive5xx)
    ejected =
      consecutive(
        mem,
        cfg,
        host,
        'consecutive_5xx',
        H.CONSECUTIVE_5XX,
        cfg.enforcingConsecutive5xx,
        nowMs,
        dice,
      ) || ejected;
  return ejected;
}

/** How long the current ejection of `host` lasts: base × backoff, capped by max. */
export function ejectionMs(mem: BreakerMemory, cfg: OutlierDetectionConfig, host: number): number {
  return Math.min(cfg.baseEjectionTimeMs * mem.load(mem.h(host, H.BACKOFF)), cfg.maxEjectionTimeMs);
}

export interface TickReport {
  readonly released: number[];
  readonly ejected: { readonly host: number; readonly type: Ejection }[];
}

/** Success rate (percent) and volume of each host this interval; -1 below the volume. */
function intervalRates(mem: BreakerMemory, volume: number): Float64Array {
  const rates = new Float64Array(mem.layout.hosts);
  for (let host = 0; host < rates.length; host++) {
    const total = mem.load(mem.h(host, H.INTERVAL_TOTAL));
    const failed = mem.load(mem.h(host, H.INTERVAL_FAILED));
    rates[host] = total >= volume && total > 0 ? (100 * (total - failed)) / total : -1;
  }
  return rates;
}

/** Envoy's onIntervalTimer, at `nowMs`. */
export function outlierTick(
  mem: BreakerMemory,
  cfg: OutlierDetectionConfig,
  nowMs: number,
  dice: Roll = roll,
): TickReport {
  const hosts = mem.layout.hosts;
  const released: number[] = [];
  const ejected: { host: number; type: Ejection }[] = [];
  for (let host = 0; host < hosts; host++) {
    if (!mem.isEjected(host)) {
      // Healthy for a whole interval since its last release: its next ejection is shorter.
      const since = mem.releasedAt(host);
      if (since !== 0 && nowMs - since >= cfg.intervalMs && mem.load(mem.h(host, H.BACKOFF)) > 0)
        mem.add(mem.h(host, H.BACKOFF), -1);
      continue;
    }
    if (ejectionMs(mem, cfg, host) <= nowMs - mem.ejectedAt(host)) {
      mem.setReleasedAt(host, nowMs);
      Atomics.store(mem.cells, mem.h(host, H.EJECTED), 0);
      mem.release(C.EJECTIONS_ACTIVE);
      released.push(host);
    }
  }
  const sr = intervalRates(mem, cfg.successRateRequestVolume);
  let valid = 0;
  let sum = 0;
  for (const r of sr) {
    if (r < 0) continue;
    valid++;
    sum += r;
  }
  if (valid >= cfg.successRateMinimumHosts && valid > 0) {
    const mean = sum / valid;
    let variance = 0;
    for (const r of sr) if (r >= 0) variance += (r - mean) ** 2;
    const threshold = mean - (cfg.successRateStdevFactor / 1000) * Math.sqrt(variance / valid);
    for (let host = 0; host < hosts; host++) {
      if (sr[host] < 0 || sr[host] >= threshold || mem.isEjected(host)) continue;
      if (
        ejectHost(mem, cfg, host, 'success_rate', enforced(cfg.enforcingSuccessRate, dice), nowMs)
      )
        ejected.push({ host, type: 'success_rate' });
    }
  }
  const fp = intervalRates(mem, cfg.failurePercentageRequestVolume);
  let fpValid = 0;
  for (const r of fp) if (r >= 0) fpValid++;
  if (fpValid >= cfg.failurePercentageMinimumHosts && fpValid > 0) {
    for (let host = 0; host < hosts; host++) {
      if (fp[host] < 0 || 100 - fp[host] < cfg.failurePercentageThreshold || mem.isEjected(host))
        continue;
      if (
        ejectHost(
          mem,
          cfg,
          host,
          'failure_percentage',
          enforced(cfg.enforcingFailurePercentage, dice),
          nowMs,
        )
      )
        ejected.push({ host, type: 'failure_percentage' });
    }
  }
  for (let host = 0; host < hosts; host++) {
    Atomics.store(mem.cells, mem.h(host, H.INTERVAL_TOTAL), 0);
    Atomics.store(mem.cells, mem.h(host, H.INTERVAL_FAILED), 0);
  }
  return { released, ejected };
}

/**
 * The hosts a request may go to, Envoy's panic rule included: `healthy` gets the non-ejected
 * hosts' indexes; returns how many, all hosts when in panic (healthy % below the threshold),
 * or 0: no healthy upstream.
 */
export function routable(mem: BreakerMemory, panicThreshold: number, out: Int32Array): number {
  const hosts = mem.layout.hosts;
  let n = 0;
  for (let host = 0; host < hosts; host++) if (!mem.isEjected(host)) out[n++] = host;
  if (n < hosts && (100 * n) / hosts < panicThreshold) {
    mem.add(C.PANIC, 1);
    for (let host = 0; host < hosts; host++) out[host] = host;
    return hosts;
  }
  return n;
}
