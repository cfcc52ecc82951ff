import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../engine/errors.ts';
import { chooseLogFormat, plainLine } from '../../engine/log.ts';

describe('log format', () => {
  const saved = process.env.LEGATE_LOG_FORMAT;
  const restore = () => {
    if (saved === undefined) delete process.env.LEGATE_LOG_FORMAT;
    else process.env.LEGATE_LOG_FORMAT = saved;
  };

  it('is plain on a terminal and JSON otherwise, unless told', () => {
    try {
      assert.equal(chooseLogFormat(undefined, {}, true), 'pretty');
      assert.equal(chooseLogFormat(undefined, {}, false), 'json');
      assert.equal(chooseLogFormat(undefined, { LEGATE_LOG_FORMAT: 'json' }, true), 'json');
      assert.equal(chooseLogFormat('pretty', { LEGATE_LOG_FORMAT: 'json' }, false), 'pretty');
      // Worker threads read the choice from the environment they inherit.
      assert.equal(process.env.LEGATE_LOG_FORMAT, 'pretty');
    } finally {
      restore();
    }
  });

  it('refuses an unknown format, naming where it came from', () => {
    try {
      assert.throws(
        () => chooseLogFormat('xml', {}, true),
        (e: unknown) => {
          assert.ok(e instanceof UsageError);
          assert.match(
            (e as Error).message,
            /^--log-format must be one of json, pretty, got 'xml'$/,
          );
          return true;
        },
      );
      assert.throws(
        () => chooseLogFormat(undefined, { LEGATE_LOG_FORMAT: 'text' }, true),
        /^UsageError: LEGATE_LOG_FORMAT must be one of json, pretty, got 'text'$/,
      );
    } finally {
      restore();
    }
  });

  it('writes one plain line per event, with the level when it is not info and the worker', () => {
    const line = (o: object) => plainLine(JSON.stringify(o));
    assert.equal(
      line({ level: 30, pid: 1, msg: 'pool alpha listening on 127.0.0.1:6379' }),
      'legate: pool alpha listening on 127.0.0.1:6379\n',
    );
    assert.equal(line({ level: 40, msg: 'shard down' }), 'legate: warning: shard down\n');
    assert.equal(line({ level: 50, worker: 1, msg: 'x' }), 'legate[w1]: error: x\n');
  });
});
