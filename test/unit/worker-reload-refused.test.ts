// A worker that refuses a reload because planning it threw (a unit's construction, an update in
// place that failed half way) is left exactly on its running generation: the units changed in
// place get their previous config back, the ones it made are closed, the set it serves is the
// one it served. The worker runtime is driven with a role of the test's own, since no config
// that passes the main thread's checks makes a real role throw there.
import assert from 'node:assert/strict';
import { afterEach, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import type { LegateConfig } from '../../engine/config/types.ts';
import type { Generation } from '../../engine/supervisor/protocol.ts';
import { WorkerRuntime } from '../../workers/entry.ts';
import type { RoleUnit, UnitPlan } from '../../workers/role.ts';

/** A unit of the test role: its name, the version of the config it serves, whether it is closed. */
class Unit implements RoleUnit {
  readonly name: string;
  version: number;
  closed = false;
  constructor(name: string, version: number) {
    this.name = name;
    this.version = version;
  }
  async listen(): Promise<boolean> {
    return true;
  }
  stopAccepting(): void {}
  async drain(): Promise<void> {
    this.closed = true;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A unit's config in a generation: what version it is at, and how planning it fails, if it does. */
interface UnitSpec {
  readonly name: string;
  readonly version: number;
  readonly fails?: 'create' | 'update';
}

/** What the role's units were at the last snapshot. */
let served: Unit[] = [];
const made: Unit[] = [];

function plan(spec: UnitSpec): UnitPlan {
  return {
    key: spec.name,
    create: () => {
      if (spec.fails === 'create') throw new Error(`cannot make ${spec.name}`);
      const u = new Unit(spec.name, spec.version);
      made.push(u);
      return u;
    },
    update: (unit) => {
      // Half done: the new version is set before the failure.
      (unit as Unit).version = spec.version;
      if (spec.fails === 'update') throw new Error(`cannot update ${spec.name}`);
      return true;
    },
  };
}

const ROLE = {
  name: 'test',
  has: () => true,
  load: async () => () => ({
    plan: (g: Generation) => (g.config as unknown as { units: UnitSpec[] }).units.map(plan),
    snapshot: (units: readonly RoleUnit[]) => {
      served = units as Unit[];
      return {};
    },
  }),
};

function generation(units: UnitSpec[]): Generation {
  // Only what the runtime reads of a config: the test role's units and the drain timeout.
  const config = { units, drainTimeoutMs: 1000 } as unknown as LegateConfig;
  return {
    config,
    pools: [],
    tcp: { backends: [], services: [] },
    http: { peers: new SharedArrayBuffer(8) },
  };
}

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
  made.length = 0;
});

async function runtimeOn(units: UnitSpec[]): Promise<WorkerRuntime> {
  const channel = new MessageChannel();
  channels.push(channel);
  const first = generation(units);
  const runtime = new WorkerRuntime(
    {
      workerId: 0,
      workers: 1,
      generation: first,
      logLevel: 'error',
      logFile: null,
      startedAt: Date.now(),
      testHooks: false,
      statsIntervalMs: 1000,
      port: channel.port1,
    },
    [ROLE],
  );
  await runtime.start(first);
  return runtime;
}

/** Each unit served now, as name@version. */
function serving(runtime: WorkerRuntime): string[] {
  runtime.snapshot();
  return served.map((u) => `${u.name}@${u.version}${u.closed ? ' closed' : ''}`);
}

/** A runtime serving a@1 and b@1 that refuses a reload to `units` with `error`. */
async function refusing(units: UnitSpec[], error: RegExp): Promise<WorkerRuntime> {
  const runtime = await runtimeOn([
    { name: 'a', version: 1 },
    { name: 'b', version: 1 },
  ]);
  await assert.rejects(runtime.reload(generation(units)), error);
  return runtime;
}

it('a unit that cannot be made: the units updated before it go back, the set stays', async () => {
  const runtime = await refusing(
    [
      { name: 'a', version: 2 },
      { name: 'c', version: 2 },
      { name: 'd', version: 2, fails: 'create' },
    ],
    /cannot make d/,
  );
  assert.deepEqual(serving(runtime), ['a@1', 'b@1']);
  // What it made for the refused generation (c) is closed.
  assert.deepEqual(
    made.filter((u) => u.name === 'c').map((u) => u.closed),
    [true],
  );
});

it('an update that throws half way: that unit and the ones before it go back', async () => {
  const runtime = await refusing(
    [
      { name: 'a', version: 2 },
      { name: 'b', version: 2, fails: 'update' },
    ],
    /cannot update b/,
  );
  assert.deepEqual(serving(runtime), ['a@1', 'b@1']);
  // And it still takes a good generation up afterwards.
  await runtime.reload(generation([{ name: 'a', version: 3 }]));
  assert.deepEqual(serving(runtime), ['a@3']);
});
