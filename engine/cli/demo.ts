import { parseConfig } from '../config/load.ts';
import { runProxy } from '../supervisor/run.ts';
import type { ParsedArgs } from './args.ts';
import { runOptions } from './main.ts';
import { type RedisProcess, startRedisServer } from './redis-process.ts';

export const DEMO_LISTEN = '127.0.0.1:6379';

/** The seed's pool settings over three local shards. */
export function demoConfigText(shardPorts: readonly number[]): string {
  return [
    'redis:',
    `  listen: ${DEMO_LISTEN}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  auto_eject_hosts: true',
    '  redis: true',
    '  timeout: 400',
    '  servers:',
    ...shardPorts.map((p) => `    - 127.0.0.1:${p}:1`),
    '',
  ].join('\n');
}

/** `legate demo` (what `npm start` runs): three redis-server shards and legate on 127.0.0.1:6379. */
export async function runDemo(args: ParsedArgs): Promise<number> {
  const shards: RedisProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) shards.push(await startRedisServer());
    const config = parseConfig(demoConfigText(shards.map((s) => s.port)), '(legate demo)');
    process.stderr.write(
      `legate demo: shards on 127.0.0.1:${shards.map((s) => s.port).join(', ')}; legate on ${DEMO_LISTEN}.\n` +
        'Try:  redis-cli -p 6379 set foo bar   then   redis-cli -p 6379 get foo\n' +
        '      redis-benchmark -p 6379 -q -n 10000\n' +
        'Ctrl-C stops legate and the shards.\n',
    );
    return await runProxy(config, runOptions(config, args));
  } finally {
    await Promise.all(shards.map((s) => s.stop()));
  }
}
