#!/usr/bin/env node
// Plain JavaScript on purpose: it must run on an old Node long enough to refuse it clearly.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `legate: Node.js ${process.versions.node} is too old; legate needs Node.js >= 22.18 ` +
      '(it runs TypeScript directly). Run it through npm (`npm start`, `npx legate`), which uses ' +
      'the Node 24 pinned in the project, or install Node 24.\n',
  );
  process.exit(1);
}
const { main } = await import('../engine/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
