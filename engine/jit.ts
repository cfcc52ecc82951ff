// bin/legate.js keeps V8's optimizing compilers (Maglev, TurboFan) off while legate loads: the
// first function either compiles pages in several MB of the Node binary's code, and module
// loading alone makes a few functions hot enough (path normalization, the resolver). A sidecar
// that has not served yet needs neither. The supervisor turns them back on 2 s after start
// (until then traffic runs on V8's baseline code); other commands, at once.
import { setFlagsFromString } from 'node:v8';

/** Where bin/legate.js leaves the flags it turned off (main thread only). */
const DEFERRED = Symbol.for('legate.deferredJit');

/** Turns back on what bin/legate.js turned off at start; nothing if it turned nothing off. */
export function resumeJit(): void {
  const global = globalThis as { [DEFERRED]?: readonly string[] };
  const flags = global[DEFERRED];
  if (flags === undefined) return;
  delete global[DEFERRED];
  for (const flag of flags) setFlagsFromString(`--${flag}`);
}
