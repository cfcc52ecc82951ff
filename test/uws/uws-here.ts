// Whether uWebSockets.js loads in this process: its binaries need glibc >= 2.38 (DESIGN.md).
import { createRequire } from 'node:module';

/** Why uWebSockets.js cannot load here (e.g. "GLIBC_2.38 not found"), or null when it loads. */
export function uwsLoadError(): string | null {
  try {
    createRequire(import.meta.url)('uWebSockets.js');
    return null;
  } catch (err) {
    const message = (err as Error).message;
    return /`GLIBC_[\d.]+' not found/.exec(message)?.[0] ?? message.split('\n')[0];
  }
}

/**
 * scripts/uws-lane.sh sets LEGATE_UWS_REQUIRED=1 where it expects uWS to load (a glibc >= 2.38
 * host, or its Debian 13 root): there, a test that would skip for want of uWS fails instead, so
 * the lane cannot pass without running the uws engine.
 */
export const UWS_REQUIRED = process.env.LEGATE_UWS_REQUIRED === '1';
