/**
 * What `legate demo` composes: one pod per ambassador the seed runs, each with the backends it
 * started, its part of the one config legate serves, and what to tell the person at the terminal.
 */

/** A config fragment: the keys of a legate.yml this pod adds (merged with the others' by config.ts). */
export interface ConfigPart {
  readonly redis?: Record<string, unknown>;
  readonly tcp?: { readonly services: Record<string, unknown> };
  readonly http?: {
    readonly upstreams: Record<string, unknown>;
    readonly servers: readonly Record<string, unknown>[];
  };
}

/** A pod whose backends run and whose ambassador the config describes. */
export interface Pod {
  /** 'Redis ambassador', 'service broker', … */
  readonly title: string;
  /** The port legate listens on for it (127.0.0.1). */
  readonly port: number;
  readonly config: ConfigPart;
  /** What is behind it and any fallback taken (a port in use, no PostgreSQL), one line each. */
  readonly notes: readonly string[];
  /** Commands to try it, one a line. */
  readonly tryIt: readonly string[];
  /** Stops the backends it started. */
  stop(): Promise<void>;
}

/** A pod whose backends could not start here, and why (said in the demo's output). */
export interface SkippedPod {
  readonly title: string;
  readonly reason: string;
}

export type PodResult = Pod | SkippedPod;

export function isPod(p: PodResult): p is Pod {
  return 'stop' in p;
}

/** Starts backends one after another; if one fails, stops those already started and throws. */
export async function startAll<T extends { stop(): Promise<void> }>(
  starts: readonly (() => Promise<T>)[],
): Promise<T[]> {
  const started: T[] = [];
  try {
    for (const start of starts) started.push(await start());
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
  return started;
}
