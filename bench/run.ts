// `npm run bench -- NAME [options]`: one entry point for every benchmark in bench/.
import { existsSync } from 'node:fs';

type BenchMain = (args: readonly string[]) => Promise<number>;

const BENCHES: Record<string, { file: string; what: string }> = {
  redis: {
    file: './redis.ts',
    what: 'legate vs nutcracker vs direct redis-server (redis-benchmark)',
  },
  breaker: {
    file: './breaker.ts',
    what: 'circuit breaker: legate (Envoy config) vs nginx vs direct; hung backend; cascade',
  },
  http: {
    file: './http.ts',
    what: 'HTTP splitter: legate (uws, node) vs nginx (seed config, keepalive) vs a backend (wrk)',
  },
  ring: { file: './ring.ts', what: 'ketama ring building and lookup' },
  tcp: {
    file: './tcp.ts',
    what: 'the TCP broker vs HAProxy vs direct (pgbench -S, redis-benchmark, setup rate, idle RSS)',
  },
  footprint: {
    file: './footprint.ts',
    what: 'RSS at rest, after load and after idle, and time to ready: legate vs the peers',
  },
  'socket-floor': {
    file: './socket-floor.ts',
    what: 'RSS of idle TCP connections in a bare Node process: net.Socket vs bare handle',
  },
};

function usage(): string {
  const lines = Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(8)}${b.what}`);
  return `usage: npm run bench -- NAME [options]   (NAME --help for its options)\n\n${lines.join('\n')}\n`;
}

/** Loads a bench module by path at run time, so one missing bench does not break the others. */
async function load(name: string, file: string): Promise<BenchMain> {
  const url = new URL(file, import.meta.url);
  if (!existsSync(url))
    throw new Error(`bench '${name}' is not there yet: ${url.pathname} does not exist`);
  const mod: unknown = await import(url.href);
  const main = (mod as { main?: unknown }).main;
  if (typeof main !== 'function')
    throw new Error(`bench '${name}': ${url.pathname} does not export a main(args) function`);
  return main as BenchMain;
}

async function run(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const bench = BENCHES[name];
  if (!bench) {
    process.stderr.write(`unknown bench '${name}'\n${usage()}`);
    return 2;
  }
  try {
    const main = await load(name, bench.file);
    return await main(rest);
  } catch (err) {
    process.stderr.write(`bench ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

process.exitCode = await run(process.argv.slice(2));
