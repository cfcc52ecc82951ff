// With several connections per shard (server_connections > 1), a client's own requests to one
// shard still reach it in the order the client sent them: each client session uses one
// connection per shard, for its single-key requests and for its parts of split requests alike.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { waitForStats } from '../helpers/admin.ts';
import { type Cluster, startCluster } from '../helpers/processes.ts';
import { decode, encode, RawClient, type Reply } from '../helpers/resp.ts';

let cluster: Cluster;

before(async () => {
  // One worker, so that every client shares the same two connections to each shard.
  cluster = await startCluster({ shards: 2, workers: 1, extra: { server_connections: 2 } });
});

after(async () => {
  await cluster?.stop();
});

const CLIENTS = 24;
const ROUNDS = 40;
const PAIRS = 25;

/** Pipelines rounds of `build(round)`; returns the mismatches `check` finds in each round's replies. */
async function pipelined(
  id: number,
  build: (round: number) => Buffer[],
  check: (round: number, replies: Reply[]) => string[],
): Promise<string[]> {
  const c = await RawClient.connect(cluster.port);
  const wrong: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const requests = build(round);
      c.write(Buffer.concat(requests));
      const replies = (await c.read(requests.length)).map((r) => decode(r));
      wrong.push(...check(round, replies).map((w) => `client ${id} round ${round}: ${w}`));
    }
  } finally {
    c.close();
  }
  return wrong;
}

/** A reply as text: bulk strings as strings, arrays element by element. */
function text(r: Reply): unknown {
  return Array.isArray(r) ? r.map(text) : r === null ? null : String(r);
}

it('SET then GET pipelined by many clients: every GET sees its own SET', async () => {
  const results = await Promise.all(
    Array.from({ length: CLIENTS }, (_, id) =>
      pipelined(
        id,
        (round) =>
          Array.from({ length: PAIRS }, (_, i) => [
            encode('SET', `order:${id}:${i}`, `${round}:${i}`),
            encode('GET', `order:${id}:${i}`),
          ]).flat(),
        (round, replies) => {
          const wrong: string[] = [];
          for (let i = 0; i < PAIRS; i++) {
            const got = text(replies[2 * i + 1]);
            if (got !== `${round}:${i}`) wrong.push(`GET order:${id}:${i} = ${String(got)}`);
          }
          return wrong;
        },
      ),
    ),
  );
  const wrong = results.flat();
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} GETs did not see their SET`);
});

it('MSET then MGET across shards: the parts keep the client’s order too', async () => {
  const results = await Promise.all(
    Array.from({ length: CLIENTS }, (_, id) =>
      pipelined(
        id,
        (round) =>
          Array.from({ length: 10 }, (_, i) => {
            const keys = Array.from({ length: 6 }, (_, k) => `fan:${id}:${i}:${k}`);
            return [
              encode('MSET', ...keys.flatMap((k) => [k, `${round}`])),
              encode('MGET', ...keys),
            ];
          }).flat(),
        (round, replies) => {
          const wrong: string[] = [];
          for (let i = 0; i < 10; i++) {
            const got = text(replies[2 * i + 1]);
            const expected = Array.from({ length: 6 }, () => `${round}`);
            if (JSON.stringify(got) !== JSON.stringify(expected))
              wrong.push(`MGET ${i} = ${JSON.stringify(got)}`);
          }
          return wrong;
        },
      ),
    ),
  );
  const wrong = results.flat();
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} MGETs did not see their MSET`);
});

it('the sessions share both connections to each shard', async () => {
  // The order above holds with both connections in use, not because only one was opened.
  const s = await waitForStats(
    cluster.legate.adminPort ?? 0,
    (doc) => doc.pools[0].servers.every((sv) => sv.server_connections === 2),
    'two open connections to each shard',
  );
  assert.deepEqual(
    s.pools[0].servers.map((sv) => sv.server_connections),
    [2, 2],
  );
});
