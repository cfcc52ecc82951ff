// bin/legate.js keeps V8's optimizing compilers off while legate loads and starts, and the
// supervisor turns them back on once started (engine/jit.ts): paging their code in is 5-8 MB
// of a process at rest. A probe preloaded into the main thread reports the compilers' state
// (V8's %IsMaglevEnabled / %IsTurbofanEnabled) each time it changes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import {
  freePort,
  LEGATE_BIN,
  NODE,
  poolYaml,
  track,
  waitFor,
  writeConfig,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

const PROBE = `import { isMainThread } from 'node:worker_threads';
if (isMainThread) {
  let last = '';
  const check = () => {
    const now = %IsMaglevEnabled() && %IsTurbofanEnabled() ? 'on' : %IsMaglevEnabled() || %IsTurbofanEnabled() ? 'partly' : 'off';
    if (now !== last) process.stdout.write('jit ' + now + '\\n');
    last = now;
  };
  check();
  setInterval(check, 2).unref();
}
`;

async function startWithProbe(extraNodeArgs: readonly string[]) {
  const port = await freePort();
  const config = writeConfig(poolYaml({ port, shards: [await freePort()] }));
  const probe = join(dirname(config.file), 'probe.mjs');
  writeFileSync(probe, PROBE);
  const child = spawn(
    NODE,
    [
      '--allow-natives-syntax',
      ...extraNodeArgs,
      '--import',
      probe,
      LEGATE_BIN,
      '-c',
      config.file,
      '-w',
      '1',
      '-s',
      '0',
      '--admin',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return { proc: track(child), port, config };
}

test('the optimizing compilers are off while legate starts and back on once it has', async () => {
  const { proc, port, config } = await startWithProbe([]);
  try {
    await waitFor(proc, /"msg":"legate [^"]* started on pid/, 'legate');
    await waitFor(proc, /started on pid[^\n]*\n(.*\n)*jit on\n/, 'the compilers back on', 10000);
    const states = proc.output().match(/^jit \w+$/gm);
    // On before bin/legate.js ran, off while it loaded and started, on again after.
    assert.deepEqual(states, ['jit on', 'jit off', 'jit on']);
    const started = proc.output().search(/started on pid/);
    assert.ok(proc.output().indexOf('jit off') < started, 'off before legate started');
    const client = await RawClient.connect(port);
    assert.equal((await client.command('PING')).toString(), '+PONG\r\n');
    client.socket.destroy();
  } finally {
    await proc.stop();
    config.cleanup();
  }
});

test('a node flag naming the compilers is left alone', async () => {
  const { proc, config } = await startWithProbe(['--no-maglev']);
  try {
    await waitFor(proc, /"msg":"legate [^"]* started on pid/, 'legate');
    // Past the second after start at which the supervisor would turn them back on.
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(proc.output().match(/^jit \w+$/gm), ['jit partly']);
  } finally {
    await proc.stop();
    config.cleanup();
  }
});
