// A Node release that changes the libuv stream bindings must not strand a user: legate sees it
// at start, says so with why, and serves on net.Socket. The change is made for real in the
// legate process (and its workers) by a module preloaded with NODE_OPTIONS=--import that hides
// methods of tcp_wrap's TCP, as a new Node might.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  freePort,
  poolYaml,
  startCluster,
  startLegate,
  writeConfig,
} from '../helpers/processes.ts';
import { RawClient } from '../helpers/resp.ts';

const dir = mkdtempSync(join(tmpdir(), 'legate-net-fallback-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CHANGED_NODE = `
const real = process.binding.bind(process);
process.binding = (name) => {
  const b = real(name);
  if (name !== 'tcp_wrap') return b;
  function TCP() {}
  return { ...b, TCP };
};
`;

test('changed bindings: the data plane runs on net.Socket, logged with why, and serves', async () => {
  const preload = join(dir, 'changed-node.mjs');
  writeFileSync(preload, CHANGED_NODE);
  const cluster = await startCluster({
    workers: 2,
    env: { NODE_OPTIONS: `--import ${preload}`, LEGATE_NET: '' },
  });
  try {
    assert.match(
      cluster.legate.output(),
      /"msg":"data plane on net.Socket: Node [\d.]+'s libuv stream bindings are not as expected \(missing useUserBuffer, writeBuffer, writev\); net.Socket instead"/,
    );
    const client = await RawClient.connect(cluster.port);
    for (let i = 0; i < 50; i++) assert.equal(await client.call('SET', `k${i}`, `v${i}`), 'OK');
    for (let i = 0; i < 50; i++)
      assert.deepEqual(await client.call('GET', `k${i}`), Buffer.from(`v${i}`));
    client.close();
  } finally {
    await cluster.stop();
  }
});

test('LEGATE_NET=uv with changed bindings refuses to start, naming what is missing', async () => {
  const preload = join(dir, 'changed-node.mjs');
  writeFileSync(preload, CHANGED_NODE);
  // No shard is needed: the workers refuse before connecting to any.
  const config = writeConfig(poolYaml({ port: await freePort(), shards: [await freePort()] }));
  try {
    await assert.rejects(
      startLegate(['-c', config.file, '-w', '1'], {
        NODE_OPTIONS: `--import ${preload}`,
        LEGATE_NET: 'uv',
      }),
      /LEGATE_NET=uv, but Node [\d.]+'s libuv stream bindings are not as expected \(missing useUserBuffer/,
    );
  } finally {
    config.cleanup();
  }
});
