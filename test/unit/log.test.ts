// engine/log.ts: the lazy logger the workers use makes its pino logger (and its file) only at
// the first line at or above its level, and then logs as pino does, children included.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLazyLogger } from '../../engine/log.ts';

const dir = mkdtempSync(join(tmpdir(), 'legate-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

test('nothing is made until a line at the level comes; then lines carry the bindings', () => {
  const file = join(dir, 'a.log');
  const log = createLazyLogger('info', { worker: 3 }, file);
  const child = log.child({ pool: 'alpha' });
  log.debug('below the level');
  child.trace({ x: 1 }, 'below too');
  assert.equal(existsSync(file), false, 'no logger, no file, for lines below the level');
  child.info({ server: 's1' }, 'shard %s reachable again', 's1');
  log.warn('a warning');
  log.debug('still below');
  const got = lines(file);
  assert.equal(got.length, 2);
  assert.deepEqual(
    [got[0].msg, got[0].worker, got[0].pool, got[0].server, got[0].level],
    ['shard s1 reachable again', 3, 'alpha', 's1', 30],
  );
  assert.deepEqual(
    [got[1].msg, got[1].worker, got[1].pool, got[1].level],
    ['a warning', 3, undefined, 40],
  );
});

test('at debug, debug lines are written; silent writes nothing', () => {
  const file = join(dir, 'b.log');
  createLazyLogger('debug', {}, file).debug('listening');
  assert.equal(lines(file)[0].msg, 'listening');
  const quiet = join(dir, 'c.log');
  const log = createLazyLogger('silent', {}, quiet);
  log.error('nobody hears this');
  log.fatal('nor this');
  assert.equal(existsSync(quiet), false);
});
