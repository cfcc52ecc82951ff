import { performance } from 'node:perf_hooks';

/**
 * The worker's notion of "now" in milliseconds (performance.now()), read once per socket read
 * rather than once per request: every request and reply of one read shares the same instant.
 */
export let now = performance.now();

/** Updates `now`; call at the start of each socket 'data' handler. */
export function tick(): number {
  now = performance.now();
  return now;
}
