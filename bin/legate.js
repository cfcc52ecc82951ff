#!/usr/bin/env node
// Plain JavaScript on purpose: it must run on an old Node long enough to refuse it clearly.
import { existsSync, readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { setFlagsFromString } from 'node:v8';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `legate: Node.js ${process.versions.node} is too old; legate needs Node.js >= 22.18. ` +
      'Run it through npm (`npm start`, `npx legate`), which uses the Node 24 pinned in the ' +
      'project, or install Node 24.\n',
  );
  process.exit(1);
}

// V8's optimizing compilers stay off while legate loads, as long as no flag given to node names
// them: paging their code in costs a process at rest 7-8 MB it never needs before it serves.
// The engine turns them back on 2 s after it starts (engine/jit.ts, engine/supervisor/run.ts).
const JIT = ['maglev', 'turbofan'];
const nodeFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
if (!/--(no-)?(maglev|turbofan|opt|jitless)\b/.test(nodeFlags)) {
  for (const flag of JIT) setFlagsFromString(`--no-${flag}`);
  globalThis[Symbol.for('legate.deferredJit')] = JIT;
}

// Compiled code is cached on disk (NODE_COMPILE_CACHE, else the system's temporary directory),
// so later starts skip most of the parsing. Worker threads use it only through the variable.
const cache = module.enableCompileCache?.();
if (cache?.directory !== undefined && process.env.NODE_COMPILE_CACHE === undefined)
  process.env.NODE_COMPILE_CACHE = cache.directory;

const built = new URL('../dist/engine/cli/main.js', import.meta.url);

/** The newest .ts under engine/ and workers/ that is newer than `since` (ms), if any. */
function newerSource(since) {
  for (const dir of ['engine', 'workers']) {
    const base = new URL(`../${dir}/`, import.meta.url);
    for (const name of readdirSync(base, { recursive: true })) {
      if (name.endsWith('.ts') && statSync(new URL(name, base)).mtimeMs > since)
        return `${dir}/${name}`;
    }
  }
  return null;
}

/**
 * Users run the JavaScript `npm ci` built into dist/ (no type stripper in any thread: about
 * 18 MB less per thread). The TypeScript sources run instead, said on stderr, when dist/ is
 * missing or older than a source (a development checkout), or when LEGATE_SOURCES=ts.
 */
function entry() {
  if (process.env.LEGATE_SOURCES === 'ts') return '../engine/cli/main.ts';
  let why;
  if (!existsSync(built)) why = 'dist/ is missing';
  else {
    const stale = newerSource(statSync(built).mtimeMs);
    if (stale === null) return built.href;
    why = `${stale} is newer than dist/`;
  }
  process.stderr.write(
    `legate: running the TypeScript sources: ${why} (\`npm run build\` makes it; \`npm ci\` runs that)\n`,
  );
  return '../engine/cli/main.ts';
}

const { main } = await import(entry());
process.exitCode = await main(process.argv.slice(2));
