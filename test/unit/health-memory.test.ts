import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allocateHealth,
  CONNECTION_LOSS_WINDOW_MS,
  EJECTED,
  HealthTable,
  LIVE,
} from '../../engine/shared/health-memory.ts';

test('failures count in a row; a good reply starts over', () => {
  const h = new HealthTable(allocateHealth(2));
  assert.equal(h.recordFailure(1), 1);
  assert.equal(h.recordFailure(1), 2);
  assert.equal(h.failures(0), 0);
  h.recordSuccess(1);
  assert.equal(h.failures(1), 0);
  assert.equal(h.recordFailure(1), 1);
});

test('one lost connection seen by every worker at once is one failure', () => {
  const h = new HealthTable(allocateHealth(1));
  const t = 1_000_000;
  // Four workers lose their connections to a restarting shard within a few milliseconds.
  const counted = [t, t + 2, t + 5, t + 9].map((at) => h.recordConnectionLoss(0, at));
  assert.deepEqual(counted, [1, 0, 0, 0]);
  // Reconnecting after the window fails again: a second failure.
  assert.equal(h.recordConnectionLoss(0, t + CONNECTION_LOSS_WINDOW_MS + 10), 2);
  assert.equal(h.failures(0), 2);
});

test('only the main thread changes state; re-admission clears the failures', () => {
  const h = new HealthTable(allocateHealth(1));
  h.recordFailure(0);
  h.recordFailure(0);
  h.markEjected(0, 1_700_000_000);
  assert.equal(h.state(0), EJECTED);
  assert.equal(h.ejects(0), 1);
  assert.equal(h.ejectedAt(0), 1_700_000_000);
  h.markLive(0);
  assert.equal(h.state(0), LIVE);
  assert.equal(h.failures(0), 0);
});
