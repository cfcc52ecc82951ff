// V8 keeps the pages a heap grew to (a young generation of up to 48 MB, old-space pages, the
// external memory of dead Buffers it has not collected because nothing allocates any more): a
// thread would hold its high-water mark for good, the startup's (module loading, config
// parsing) or a load's. A last-resort collection gives it back: measured on a worker thread,
// 126 MB after a burst of garbage, 125 MB after 5 s of idleness, 71 MB after this (62.7 MB
// before the burst). Called once after start (main thread and each worker) and once when a
// worker goes quiet after a load (workers/net/out-buffers.ts), never on a busy path.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let gc: Gc | null = null;

/** Collects everything collectable and hands freed pages back to the system (a few ms). */
export function releaseIdleMemory(): void {
  if (gc === null) {
    // V8 installs `gc` in contexts made after the flag is set; only this function calls it.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  }
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
