// Each closed client is counted once, in client_eof or client_err, as nutcracker counts it:
// the same recipes against legate and the real nutcracker on the same shards, and the two stats
// ports compared.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { readStatsPort } from '../helpers/admin.ts';
import { sleep } from '../helpers/faults.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startNutcracker,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { encode } from '../helpers/resp.ts';

interface Proxy {
  readonly name: string;
  readonly port: number;
  readonly process: RunningProcess;
}

let shards: RedisProcess[] = [];
const files: { file: string; cleanup(): void }[] = [];
const proxies: Proxy[] = [];

before(async () => {
  shards = await startShards(2);
  for (const name of ['legate', 'nutcracker'] as const) {
    const port = await freePort();
    const config = writeConfig(poolYaml({ port, shards: shards.map((s) => s.port) }));
    files.push(config);
    const process =
      name === 'legate'
        ? await startLegate(['-c', config.file, '-w', '2', '-i', '100'])
        : await startNutcracker(config.file, port, ['-i', '100']);
    proxies.push({ name, port, process });
  }
});

after(async () => {
  for (const p of proxies) await p.process.stop();
  await stopAll(shards);
  for (const f of files) f.cleanup();
});

interface Counts {
  client_eof: number;
  client_err: number;
  client_connections: number;
}

async function counts(p: Proxy): Promise<Counts> {
  const doc = JSON.parse(await readStatsPort(p.process.statsPort ?? 0)) as Record<string, Counts>;
  const { client_eof, client_err, client_connections } = doc.redis;
  return { client_eof, client_err, client_connections };
}

/** The counts once no client is connected and two reads agree (both proxies report late). */
async function settled(p: Proxy): Promise<Counts> {
  const deadline = Date.now() + 8000;
  let last = await counts(p);
  for (;;) {
    await sleep(250);
    const now = await counts(p);
    if (now.client_connections === 0 && JSON.stringify(now) === JSON.stringify(last)) return now;
    if (Date.now() > deadline)
      throw new Error(`${p.name}: counts did not settle: ${JSON.stringify(now)}`);
    last = now;
  }
}

/** One client: connects, does `act`, and resolves once the proxy has closed the connection. */
function client(p: Proxy, act: (s: Socket) => void): Promise<void> {
  const port = p.port;
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${p.name} did not close the connection`));
    }, 5000);
    s.on('data', () => {});
    s.on('error', () => {});
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.once('connect', () => act(s));
  });
}

const RECIPES: { name: string; clients: number; act: (s: Socket) => void }[] = [
  {
    name: 'a truncated request, then the client shuts down its sending side',
    clients: 50,
    // The FIN follows a moment later: when it comes in the same read as the cut request,
    // nutcracker 0.5.0 sometimes never closes the connection (seen: CLOSE-WAIT for good, in about
    // half the runs), and there is then nothing of nutcracker's to compare with.
    act: (s) => {
      s.write(encode('SET', 'cut', 'value').subarray(0, 12));
      setTimeout(() => s.end(), 50);
    },
  },
  {
    name: 'a whole request, then the client shuts down its sending side',
    clients: 10,
    act: (s) => s.end(encode('GET', 'whole')),
  },
  {
    name: 'QUIT',
    clients: 10,
    act: (s) => s.write(encode('QUIT')),
  },
  {
    name: 'a protocol error',
    clients: 10,
    act: (s) => s.write('*1\r\n$abc\r\n'),
  },
  {
    name: 'a reset after a reply',
    clients: 10,
    act: (s) => {
      s.once('data', () => s.resetAndDestroy());
      s.write(encode('GET', 'reset'));
    },
  },
];

for (const recipe of RECIPES) {
  it(`${recipe.name}: counted once, as nutcracker counts it`, async () => {
    const deltas: Record<string, { client_eof: number; client_err: number }> = {};
    for (const p of proxies) {
      const before = await settled(p);
      await Promise.all(Array.from({ length: recipe.clients }, () => client(p, recipe.act)));
      const after = await settled(p);
      deltas[p.name] = {
        client_eof: after.client_eof - before.client_eof,
        client_err: after.client_err - before.client_err,
      };
    }
    assert.deepEqual(deltas.legate, deltas.nutcracker, JSON.stringify(deltas));
    assert.equal(
      deltas.legate.client_eof + deltas.legate.client_err,
      recipe.clients,
      'each client counted once',
    );
  });
}
