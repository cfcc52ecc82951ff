// That the compose file, the Dockerfiles and the configs they mount agree on names, ports and
// paths; test/docker/pods.test.ts brings the pods up for real where a Docker daemon runs.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../engine/config/load.ts';

const root = new URL('../../', import.meta.url).pathname;
const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'));
const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
const localDockerfile = readFileSync(`${root}deploy/docker/local.Dockerfile`, 'utf8');
const REDIS_PORT = 6379; // the redis image's default

test('three shards, each reachable by the name the seed config uses', () => {
  const shards = Object.keys(compose.services).filter((s) => s.startsWith('redis-shard-'));
  assert.deepEqual(shards.sort(), ['redis-shard-0', 'redis-shard-1', 'redis-shard-2']);
  const config = loadConfig(`${root}deploy/pods/redis-shard/nutcracker.yml`);
  const names = new Set<string>();
  for (const s of shards) {
    names.add(s);
    for (const alias of compose.services[s].networks?.default?.aliases ?? []) names.add(alias);
  }
  for (const server of config.redis[0].servers) {
    assert.equal(server.address.kind, 'tcp');
    if (server.address.kind !== 'tcp') continue;
    assert.ok(names.has(server.address.host), `${server.address.host} is a shard service or alias`);
    assert.equal(server.address.port, REDIS_PORT);
  }
});

test("the ambassador mounts the seed's config where the seed does, and the image looks there", () => {
  const legate = compose.services['redis-ambassador'];
  assert.equal(legate.build, '.');
  const mount: string = legate.volumes.find((v: string) => v.endsWith(':/etc/nutcracker:ro'));
  assert.ok(mount, 'a directory is mounted at /etc/nutcracker, as the seed mounts its ConfigMap');
  const source = mount.split(':')[0].replace(/^\.\//, '');
  assert.ok(existsSync(`${root}${source}/nutcracker.yml`));
  for (const file of [dockerfile, localDockerfile]) {
    const paths = /^ENV LEGATE_CONFIG_PATHS=(\S+)/m.exec(file)?.[1].split(':') ?? [];
    assert.ok(paths.includes('/etc/nutcracker/nutcracker.yml'), 'the image looks there');
    assert.ok(
      !/^COPY \S+ \/etc\//m.test(file),
      'the image itself puts no config where a mount goes',
    );
  }
});

test('the Dockerfile builds on Node 24 Debian 13 and copies paths that exist', () => {
  assert.match(dockerfile, /^FROM node:24-trixie/m);
  for (const m of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
    for (const src of m[1].split(' '))
      assert.ok(existsSync(`${root}${src}`), `COPY source ${src} exists`);
  }
  // It runs the JavaScript it builds (bin/legate.js prefers dist/), without the build's tools.
  assert.match(dockerfile, /tsc -p tsconfig\.build\.json/);
  assert.match(dockerfile, /test -f dist\/engine\/cli\/main\.js/);
  assert.match(dockerfile, /npm prune --omit=dev/);
  const entry = dockerfile.match(/^ENTRYPOINT \[(.*)\]$/m);
  assert.ok(entry);
  assert.ok(existsSync(`${root}${JSON.parse(`[${entry[1]}]`)[1]}`));
});

test("the app and bench seats share the ambassador's network and target its listen port", () => {
  const bench = compose.services.bench;
  assert.deepEqual(bench.profiles, ['bench']);
  assert.equal(bench.network_mode, 'service:redis-ambassador');
  assert.equal(compose.services['redis-app'].network_mode, 'service:redis-ambassador');
  const listen = loadConfig(`${root}deploy/pods/redis-shard/nutcracker.yml`).redis[0].listen;
  assert.equal(listen.kind, 'tcp');
  if (listen.kind !== 'tcp') return;
  const args: string[] = bench.command;
  assert.equal(args[0], 'redis-benchmark');
  assert.equal(args[args.indexOf('-h') + 1], listen.host);
  assert.equal(Number(args[args.indexOf('-p') + 1]), listen.port);
});
