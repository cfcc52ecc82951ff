import { readFileSync } from 'node:fs';

// From the sources (engine/version.ts) or the build (dist/engine/version.js) alike.
const here = import.meta.url.endsWith('.js') ? '../../package.json' : '../package.json';

/** legate's version, from package.json, so there is one place to bump it. */
export const VERSION: string = JSON.parse(
  readFileSync(new URL(here, import.meta.url), 'utf8'),
).version;
