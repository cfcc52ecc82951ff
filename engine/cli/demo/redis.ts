import { startRedisServer } from '../redis-process.ts';
import { type ConfigPart, type Pod, startAll } from './pod.ts';
import type { ChosenPort } from './ports.ts';

export const REDIS_TITLE = 'Redis ambassador (twemproxy)';

/** The seed's pool settings (nutcracker.yml) over the local shards. */
export function redisPart(port: number, shardPorts: readonly number[]): ConfigPart {
  return {
    redis: {
      shards: {
        listen: `127.0.0.1:${port}`,
        hash: 'fnv1a_64',
        distribution: 'ketama',
        auto_eject_hosts: true,
        redis: true,
        timeout: 400,
        servers: shardPorts.map((p) => `127.0.0.1:${p}:1`),
      },
    },
  };
}

/** The seed's nutcracker pod: three local redis-server shards behind the seed's pool settings. */
export async function startRedisPod(listen: ChosenPort): Promise<Pod> {
  const shards = await startAll([startRedisServer, startRedisServer, startRedisServer]);
  const p = listen.port;
  return {
    title: REDIS_TITLE,
    port: p,
    config: redisPart(
      p,
      shards.map((s) => s.port),
    ),
    notes: [
      ...(listen.note === null ? [] : [listen.note]),
      `shards: redis-server on 127.0.0.1:${shards.map((s) => s.port).join(', ')} (ketama, fnv1a_64)`,
    ],
    tryIt: [
      `redis-cli -p ${p} set foo bar   then   redis-cli -p ${p} get foo`,
      `redis-benchmark -p ${p} -q -n 10000 -t set,get`,
    ],
    stop: async () => {
      await Promise.all(shards.map((s) => s.stop()));
    },
  };
}
