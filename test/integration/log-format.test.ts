import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { freePort, LEGATE_BIN, NODE, poolYaml, writeConfig } from '../helpers/processes.ts';

/** Runs legate until its pool listens, stops it, and returns what it printed. */
async function logOf(
  args: string[],
  env: NodeJS.ProcessEnv,
  viaTerminal: boolean,
): Promise<string> {
  // `exec`: with SHELL=/bin/sh (CI), script's shell would stay legate's parent and take the
  // SIGTERM meant for legate, leaving legate running on the test's ports.
  const command = `exec ${[NODE, LEGATE_BIN, ...args].map((a) => `'${a}'`).join(' ')}`;
  // `script` gives legate a terminal, as a person running it by hand has.
  const child = viaTerminal
    ? spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...env } })
    : spawn(NODE, [LEGATE_BIN, ...args], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const deadline = Date.now() + 15000;
  while (!/listening on 127\.0\.0\.1:\d+(\r?\n|")/.test(out.split('pool alpha')[1] ?? '')) {
    if (Date.now() > deadline) throw new Error(`legate did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const exited = new Promise((r) => child.once('exit', r));
  // Through `script` the signal must reach legate itself, script's child.
  if (viaTerminal) spawn('pkill', ['-TERM', '-P', String(child.pid)]);
  else child.kill('SIGTERM');
  await exited;
  return out;
}

describe('logs a person can read, JSON for machines', () => {
  let config: { file: string; cleanup(): void };
  let args: string[];
  before(async () => {
    const port = await freePort();
    config = writeConfig(
      poolYaml({ name: 'alpha', port, shards: [await freePort()] }),
      'nutcracker.yml',
    );
    args = ['-c', config.file, '-w', '1', '--admin', `127.0.0.1:${await freePort()}`, '-s', '0'];
  });
  after(() => config.cleanup());

  it('on a terminal: one plain line per event, like nutcracker', async () => {
    const out = await logOf(args, { LEGATE_LOG_FORMAT: '' }, true);
    assert.match(out, /^legate: legate \S+ started on pid \d+, 1 workers\r?$/m);
    assert.match(out, /^legate: pool alpha listening on 127\.0\.0\.1:\d+\r?$/m);
    assert.doesNotMatch(out, /"msg":/);
  });

  it('through a pipe (kubectl logs, log shippers): JSON lines', async () => {
    const out = await logOf(args, { LEGATE_LOG_FORMAT: '' }, false);
    const lines = out.trim().split('\n');
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), l);
    assert.ok(lines.some((l) => JSON.parse(l).msg.startsWith('pool alpha listening on')));
  });

  it('--log-format and LEGATE_LOG_FORMAT override the guess', async () => {
    const plain = await logOf([...args, '--log-format', 'pretty'], {}, false);
    assert.match(plain, /^legate: pool alpha listening on 127\.0\.0\.1:\d+$/m);
    const json = await logOf(args, { LEGATE_LOG_FORMAT: 'json' }, true);
    assert.match(json, /"msg":"pool alpha listening on 127\.0\.0\.1:\d+"/);
  });
});
