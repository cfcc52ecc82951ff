// The Redis bench's options: presets, run lengths, and a clear error for each bad value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSettings, SettingsError } from '../../bench/lib/settings.ts';

test('--pipelined is SET and GET at -P 16 over three run lengths, without the memory section', () => {
  const s = parseSettings(['--pipelined'])!;
  assert.deepEqual(s.tests, ['set', 'get']);
  assert.deepEqual(s.pipelines, [16]);
  assert.deepEqual(s.requests, [400000, 2000000, 4000000]);
  assert.equal(s.rounds, 3);
  assert.equal(s.skipMemory, true);
  assert.equal(s.memoryOnly, false);
});

test('an option given with --pipelined overrides the preset', () => {
  const s = parseSettings(['--pipelined', '--rounds', '5', '-n', '2000000'])!;
  assert.equal(s.rounds, 5);
  assert.deepEqual(s.requests, [2000000]);
  assert.deepEqual(s.tests, ['set', 'get']);
});

test('-n takes several run lengths, sorted and without repeats', () => {
  assert.deepEqual(parseSettings(['-n', '2000000,400000,2000000'])!.requests, [400000, 2000000]);
});

test('by default runs are calibrated to --seconds, 6 unless given', () => {
  assert.equal(parseSettings([])!.requests, undefined);
  assert.equal(parseSettings([])!.runSeconds, 6);
  assert.equal(parseSettings(['--seconds', '10'])!.runSeconds, 10);
  assert.equal(parseSettings([])!.skipMemory, false);
  assert.equal(parseSettings(['--no-memory'])!.skipMemory, true);
});

test('bad values are refused with the option named', () => {
  const bad: [string[], RegExp][] = [
    [['-n', '400000,abc'], /--requests needs a positive integer, got 'abc'/],
    [['-n', '0'], /--requests needs a positive integer, got '0'/],
    [['--seconds=-1'], /--seconds needs a positive number, got '-1'/],
    [['--seconds', 'x'], /--seconds needs a positive number, got 'x'/],
    [['--quick', '--pipelined'], /--quick and --pipelined do not go together/],
    [['--memory', '--no-memory'], /--memory .* and --no-memory do not go together/],
    [['--memory', '--pipelined'], /--memory .* and --pipelined do not go together/],
    [['--tests', 'set,foo'], /--tests: unknown 'foo'/],
    [['--bogus'], /bogus/],
  ];
  for (const [args, message] of bad) {
    assert.throws(
      () => parseSettings(args),
      (err: Error) => {
        assert.ok(err instanceof SettingsError, `${args.join(' ')}: a SettingsError`);
        assert.match(err.message, message);
        return true;
      },
    );
  }
});
