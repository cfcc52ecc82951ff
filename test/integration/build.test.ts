// What `npm ci` builds (the `prepare` script: tsc -p tsconfig.build.json into dist/) and how
// bin/legate.js picks it: the emitted JavaScript when it is there and not older than a source,
// else the TypeScript sources, with a line on stderr saying why. Done in a copy of the checkout,
// built there, so the real dist/ is not touched.
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { NODE, run } from '../helpers/processes.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
let copy: string;

before(async () => {
  copy = mkdtempSync(join(tmpdir(), 'legate-build-'));
  for (const f of [
    'bin',
    'engine',
    'workers',
    'config',
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
  ])
    cpSync(join(ROOT, f), join(copy, f), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const tsc = join(ROOT, 'node_modules/.bin/tsc');
  const built = await run(NODE, [tsc, '-p', join(copy, 'tsconfig.build.json')], {
    timeoutMs: 120000,
  });
  assert.equal(built.code, 0, built.stdout.toString() + built.stderr);
});

after(() => rmSync(copy, { recursive: true, force: true }));

const legate = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(NODE, [join(copy, 'bin/legate.js'), ...args], { env });

it('emits JavaScript for every source, imports rewritten to .js, the worker entry included', () => {
  for (const f of ['engine/cli/main.js', 'workers/entry.js', 'workers/net/transport.js'])
    assert.ok(existsSync(join(copy, 'dist', f)), `dist/${f}`);
  const entry = readFileSync(join(copy, 'dist/workers/entry.js'), 'utf8');
  assert.match(entry, /from "\.\/net\/transport\.js"/);
  assert.doesNotMatch(entry, /\.ts["']/);
});

it('runs the build quietly, and the proxy from it (config check, version)', async () => {
  const v = await legate(['-V']);
  assert.equal(v.code, 0);
  assert.equal(v.stderr, '');
  assert.match(v.stdout.toString(), /^This is legate-\d+\.\d+\.\d+/);
  const t = await legate(['-t', '-c', join(copy, 'config/nutcracker.yml')]);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stderr, '');
});

it('a source newer than the build: the sources run, and stderr names the file', async () => {
  const file = join(copy, 'workers/redis/pool.ts');
  const later = new Date(Date.now() + 60_000);
  utimesSync(file, later, later);
  const v = await legate(['-V']);
  assert.equal(v.code, 0);
  assert.match(
    v.stderr,
    /running the TypeScript sources: workers\/redis\/pool\.ts is newer than dist\//,
  );
  const forced = await legate(['-V'], { LEGATE_SOURCES: 'ts' });
  assert.equal(forced.stderr, '', 'LEGATE_SOURCES=ts asks for the sources: nothing to say');
});

it('no build at all: the sources run, and stderr says dist/ is missing', async () => {
  rmSync(join(copy, 'dist'), { recursive: true });
  const v = await legate(['-V']);
  assert.equal(v.code, 0);
  assert.match(v.stderr, /running the TypeScript sources: dist\/ is missing \(`npm run build`/);
  assert.match(v.stdout.toString(), /^This is legate-\d+\.\d+\.\d+/);
});
