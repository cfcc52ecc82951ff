// No Docker engine runs here, so this checks that the compose file, the Dockerfile and the
// config they mount agree: the names, ports and paths that `docker compose up` would rely on.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../engine/config/load.ts';

const root = new URL('../../', import.meta.url).pathname;
const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'));
const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
const REDIS_PORT = 6379; // the redis image's default

test('three shards, each reachable by the name the seed config uses', () => {
  const shards = Object.keys(compose.services).filter((s) => s.startsWith('redis-shard-'));
  assert.deepEqual(shards.sort(), ['redis-shard-0', 'redis-shard-1', 'redis-shard-2']);
  const config = loadConfig(`${root}config/nutcracker.yml`);
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

test('legate mounts config/ where LEGATE_CONFIG points, and the file is there', () => {
  const legate = compose.services.legate;
  assert.equal(legate.build, '.');
  const mount = legate.volumes.find((v: string) => v.startsWith('./config:'));
  assert.ok(mount, 'config/ is mounted');
  const target = mount.split(':')[1];
  const configPath: string = legate.environment.LEGATE_CONFIG;
  assert.ok(configPath.startsWith(`${target}/`), `${configPath} is inside the mount ${target}`);
  assert.ok(existsSync(`${root}config/${configPath.slice(target.length + 1)}`));
  assert.match(dockerfile, new RegExp(`ENV LEGATE_CONFIG=${configPath.replace(/\//g, '\\/')}`));
});

test('the Dockerfile builds on Node 24 Debian 13 and copies paths that exist', () => {
  assert.match(dockerfile, /^FROM node:24-trixie/m);
  for (const m of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
    for (const src of m[1].split(' '))
      assert.ok(existsSync(`${root}${src}`), `COPY source ${src} exists`);
  }
  const entry = dockerfile.match(/^ENTRYPOINT \[(.*)\]$/m);
  assert.ok(entry);
  assert.ok(existsSync(`${root}${JSON.parse(`[${entry[1]}]`)[1]}`));
});

test("the bench profile shares legate's network and targets its listen port", () => {
  const bench = compose.services.bench;
  assert.deepEqual(bench.profiles, ['bench']);
  assert.equal(bench.network_mode, 'service:legate');
  const listen = loadConfig(`${root}config/nutcracker.yml`).redis[0].listen;
  assert.equal(listen.kind, 'tcp');
  if (listen.kind !== 'tcp') return;
  const args: string[] = bench.command;
  assert.equal(args[0], 'redis-benchmark');
  assert.equal(args[args.indexOf('-h') + 1], listen.host);
  assert.equal(Number(args[args.indexOf('-p') + 1]), listen.port);
});
