import type { MessagePort } from 'node:worker_threads';
import type { LegateConfig, LogLevel } from '../config/types.ts';
import type { WorkerSnapshot } from '../metrics/snapshot.ts';
import type { PoolShared } from './pool-state.ts';

/** What the main thread hands each worker: its place, the config, the pools' shared memory, a port. */
export interface WorkerTask {
  readonly workerId: number;
  readonly workers: number;
  readonly generation: Generation;
  readonly logLevel: LogLevel;
  /** Append logs to this file (-o) rather than standard output. */
  readonly logFile: string | null;
  readonly startedAt: number;
  /** Enables the test-only `crash` message and reload hold (LEGATE_TEST_HOOKS=1); off in normal runs. */
  readonly testHooks: boolean;
  /** How often to send a metrics snapshot. */
  readonly statsIntervalMs: number;
  readonly port: MessagePort;
}

/** One config generation: the config and each role's shared memory. */
export interface Generation {
  readonly config: LegateConfig;
  /** Redis: per pool in config order. */
  readonly pools: readonly PoolShared[];
  /** The TCP broker: per backend and per service in config order. */
  readonly tcp: TcpShared;
  /** The HTTP role's shared peer table. */
  readonly http: HttpShared;
}

/** The HTTP role's shared memory: every upstream's peers, in config order (peerOffsets). */
export interface HttpShared {
  readonly peers: SharedArrayBuffer;
  /** The breaker's memory per guarded upstream, by name (engine/health/guard-state.ts). */
  readonly guards?: Readonly<Record<string, SharedArrayBuffer>>;
}

/** One TCP backend's shared memory (engine/shared/tcp-memory.ts, cancel-keys.ts). */
export interface TcpBackendShared {
  readonly memory: SharedArrayBuffer;
  /** PostgreSQL cancel keys → server; null unless the backend is PostgreSQL-aware. */
  readonly cancelKeys: SharedArrayBuffer | null;
}

export interface TcpShared {
  readonly backends: readonly TcpBackendShared[];
  /** ServiceMemory per service. */
  readonly services: readonly SharedArrayBuffer[];
}

/** Worker → main thread. */
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  /** A server reached `server_failure_limit` consecutive failures (counted in shared memory). */
  | {
      readonly type: 'server-failing';
      readonly pool: string;
      readonly server: number;
      readonly reason: string;
    }
  | { readonly type: 'metrics'; readonly snapshot: WorkerSnapshot }
  /** Reload `id` was applied (or not, with the reason). */
  | { readonly type: 'reloaded'; readonly id: number; readonly error?: string };

/** Main thread → worker. */
export type ControlMessage =
  | { readonly type: 'stop'; readonly drainTimeoutMs: number }
  /** `id` tells its answer from a late one to a reload given up on; a worker applies them in order. */
  | { readonly type: 'reload'; readonly id: number; readonly generation: Generation }
  | { readonly type: 'crash' };
