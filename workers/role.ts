import type { LegateConfig } from '../engine/config/types.ts';
import type { Logger } from '../engine/log.ts';
import type { WorkerSnapshot } from '../engine/metrics/snapshot.ts';
import type { Generation, WorkerMessage } from '../engine/supervisor/protocol.ts';
import type { FlushScheduler } from './net/flush-scheduler.ts';

/**
 * What a worker serves of one role: a Redis pool, a TCP service, an HTTP proxy. The
 * runtime opens, reconfigures, drains and closes units without knowing their protocol.
 */
export interface RoleUnit {
  /** Opens its listeners; false when this worker does not listen for it (a unix socket, not worker 0). */
  listen(): Promise<boolean>;
  /** Closes the listeners now; open clients are left alone. */
  stopAccepting(): void;
  /** Stops accepting and lets clients finish until `deadline` (Unix ms), then closes them. */
  drain(deadline: number): Promise<void>;
  close(): Promise<void>;
}

/** One unit a generation asks for, and how to make it or change an existing one into it. */
export interface UnitPlan {
  /** Unique within the role (the pool's or service's name). */
  readonly key: string;
  create(): RoleUnit;
  /** Applies the plan to a unit of the same key in place (same listen address); false: replace it. */
  update(unit: RoleUnit): boolean;
}

/** What the worker runtime passes every role. */
export interface RoleContext {
  readonly workerId: number;
  readonly workers: number;
  readonly startedAt: number;
  readonly scheduler: FlushScheduler;
  readonly log: Logger;
  post(message: WorkerMessage): void;
}

/** A role's worker side, loaded only when the config has the role (workers/roles.ts). */
export interface WorkerRole {
  /** The units of this role in a generation. */
  plan(generation: Generation): UnitPlan[];
  /** This role's part of the worker's metrics snapshot. */
  snapshot(units: readonly RoleUnit[]): Partial<Omit<WorkerSnapshot, 'worker' | 'at'>>;
}

export type RoleFactory = (context: RoleContext) => WorkerRole;

/** Every role a worker can host: whether a config has it, and how to load its data plane. */
export const ROLES: readonly {
  readonly name: string;
  has(config: LegateConfig): boolean;
  load(): Promise<RoleFactory>;
}[] = [
  {
    name: 'redis',
    has: (c) => c.redis.length > 0,
    load: async () => (await import('./redis/role.ts')).redisRole,
  },
  {
    name: 'tcp',
    has: (c) => c.tcp.services.length > 0,
    load: async () => (await import('./tcp/role.ts')).tcpRole,
  },
  {
    name: 'http',
    has: (c) => c.http.servers.length > 0,
    load: async () => (await import('./http/role.ts')).httpRole,
  },
];
