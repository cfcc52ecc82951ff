// Bad input: each malformed request gets `-ERR Protocol error: …` and only its own connection
// closes; a seeded fuzzer throws random and mutated RESP at a live legate while checked clients
// run beside it; client_connections is enforced across workers.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CheckedLoad, sleep, until, workerOf } from '../helpers/faults.ts';
import { prng } from '../helpers/prng.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { encode, RawClient, RawClients, replyEnd } from '../helpers/resp.ts';

const CLIENT_LIMIT = 10;

let shards: RedisProcess[] = [];
let legate: RunningProcess;
let ports: { main: number; limited: number };
let config: { file: string; cleanup(): void };
const clients = new RawClients();

before(async () => {
  shards = await startShards(3);
  ports = { main: await freePort(), limited: await freePort() };
  const servers = shards.map((s) => s.port);
  config = writeConfig(
    [
      poolYaml({ name: 'main', port: ports.main, shards: servers, extra: { timeout: 2000 } }),
      poolYaml({
        name: 'limited',
        port: ports.limited,
        shards: servers,
        extra: { client_connections: CLIENT_LIMIT },
      }),
    ].join(''),
  );
  legate = await startLegate(['-c', config.file, '-w', '2']);
});

after(async () => {
  clients.closeAll();
  await legate?.stop();
  await stopAll(shards);
  config?.cleanup();
});

const connect = (port: number): Promise<RawClient> => clients.connect(port);

const junk = (n: number, seed: number) => {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
    if (b[i] === 10) b[i] = 11; // no newline: one unending inline line
  }
  return b;
};

describe('malformed requests', () => {
  // [what, bytes, the error after "-ERR Protocol error: ", half-close after writing]
  const cases: [string, Buffer | string, string, boolean?][] = [
    ['negative array length', '*-5\r\n', 'invalid multibulk length'],
    ['negative bulk length', '*1\r\n$-3\r\n', 'invalid bulk length'],
    ['huge array length', '*99999999999999\r\n', 'invalid multibulk length'],
    ['huge bulk length', '*1\r\n$99999999999\r\n', 'invalid bulk length'],
    ['array length not a number', '*abc\r\n', 'invalid multibulk length'],
    ['bulk length not a number', '*1\r\n$1x\r\n', 'invalid bulk length'],
    ['a nested array', '*1\r\n*1\r\n$4\r\nPING\r\n', "expected '$', got '*'"],
    ["'$' missing", '*1\r\n4\r\nPING\r\n', "expected '$', got '4'"],
    ['a length line ended by LF alone', '*1\n$4\r\nPING\r\n', 'invalid multibulk length'],
    [
      'a bulk string longer than its length',
      '*1\r\n$3\r\nabcX\r\n',
      'bulk string not terminated by CRLF',
    ],
    ['binary junk after *', Buffer.from([42, 0, 0xff, 0xfe, 13, 10]), 'invalid multibulk length'],
    ['70 KB of binary junk with no newline', junk(70 * 1024, 7), 'too big inline request'],
    [
      'an inline line with an unbalanced quote',
      Buffer.from([1, 34, 0xff, 13, 10]),
      'unbalanced quotes in request',
    ],
    ['an array length line of 70 KB', `*${'1'.repeat(70 * 1024)}`, 'too big mbulk count string'],
    [
      'a truncated request, then the client ends its side',
      '*1\r\n$3\r\nab',
      'the connection ended in the middle of a request',
      true,
    ],
  ];

  let bystander: RawClient;
  let load: CheckedLoad;

  before(async () => {
    bystander = await connect(ports.main);
    load = new CheckedLoad({
      port: ports.main,
      clients: 4,
      depth: 8,
      prefix: 'bad',
      workers: 2,
      pauseMs: 2,
    });
    await load.start();
  });

  for (const [what, bytes, error, halfClose] of cases) {
    it(`${what}: -ERR Protocol error, that connection closes, others carry on`, async () => {
      const c = await connect(ports.main);
      // A good request first: its reply comes before the error, in order.
      c.write(Buffer.concat([encode('PING'), Buffer.from(bytes)]));
      if (halfClose) c.socket.end();
      const replies = (await c.read(2, 5000)).map(String);
      assert.deepEqual(replies, ['+PONG\r\n', `-ERR Protocol error: ${error}\r\n`]);
      assert.ok(await c.waitClosed(2000), 'the connection is closed');
      assert.equal(String(await bystander.call('PING')), 'PONG');
    });
  }

  it('the checked clients beside them saw no error and no wrong reply', async () => {
    await until(() => load.ok > 200, 5000, 'checked replies');
    const r = await load.stop();
    assert.deepEqual(r.wrong, []);
    assert.deepEqual(r.errors, []);
    assert.ok(r.ok > 100, `${r.ok} checked replies`);
  });
});

const CORPUS: Buffer[] = [
  encode('SET', 'fz:k', 'value'),
  encode('GET', 'fz:k'),
  encode('MGET', 'fz:a', 'fz:b', 'fz:c', 'fz:k'),
  encode('MSET', 'fz:a', '1', 'fz:b', '2'),
  encode('DEL', 'fz:a', 'fz:x'),
  encode('INCR', 'fz:n'),
  encode('HSET', 'fz:h', 'f', 'v'),
  encode('LPUSH', 'fz:l', 'a', 'b'),
  encode('EXISTS', 'fz:k', 'fz:h'),
  encode('PING'),
  encode('ECHO', 'hello'),
  encode('CLIENT', 'SETNAME', 'fuzz'),
  encode('SET', 'fz:big', 'x'.repeat(300)),
  Buffer.from('GET fz:k\r\n'),
  Buffer.from('SET fz:q "a b\\x41"\r\n'),
];
const NUMBERS = [
  '-1',
  '-2',
  '0',
  '1',
  '2147483648',
  '9007199254740993',
  '99999999999',
  '',
  'x',
  '3x',
];

/** One fuzz input: random junk, or valid requests with a few mutations. */
function fuzzInput(rand: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  if (rand() < 0.2) {
    const b = Buffer.alloc(1 + Math.floor(rand() * 600));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
    if (rand() < 0.5) b[0] = 42; // '*': junk that looks like RESP at first
    return b;
  }
  let b = Buffer.concat(Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(CORPUS)));
  const mutations = 1 + Math.floor(rand() * 3);
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(rand() * b.length);
    switch (Math.floor(rand() * 6)) {
      case 0: // flip a byte
        b = Buffer.from(b);
        b[at] = Math.floor(rand() * 256);
        break;
      case 1: // cut short
        b = b.subarray(0, at);
        break;
      case 2: // insert random bytes
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from([Math.floor(rand() * 256), 13, 10].slice(0, 1 + Math.floor(rand() * 3))),
          b.subarray(at),
        ]);
        break;
      case 3: {
        // a length replaced by an interesting number
        const text = b.toString('latin1');
        const lengths = [...text.matchAll(/[*$](-?\d+)\r\n/g)];
        if (lengths.length === 0) break;
        const l = pick(lengths);
        const start = (l.index ?? 0) + 1;
        b = Buffer.concat([
          b.subarray(0, start),
          Buffer.from(pick(NUMBERS)),
          b.subarray(start + l[1].length),
        ]);
        break;
      }
      case 4: // drop a CR or LF
        {
          const i = b.indexOf(rand() < 0.5 ? 13 : 10, at);
          if (i !== -1) b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
        }
        break;
      default: // repeat a slice
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.floor(at / 2), at), b.subarray(at)]);
    }
  }
  return b;
}

/** Keyspace-wide or dangerous commands are refused by legate anyway; this keeps the checked keys safe regardless. */
const NEVER = /flush|shutdown|debug|swapdb|rename|chk/i;

it('fuzz: random and mutated RESP for 8 s never crashes legate, and checked clients see no wrong reply', async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261127);
  const rand = prng(seed);
  const load = new CheckedLoad({
    port: ports.main,
    clients: 4,
    depth: 8,
    prefix: 'chk',
    workers: 2,
    pauseMs: 2,
  });
  await load.start();
  let cases = 0;
  let protocolErrors = 0;
  const deadline = Date.now() + 8000;
  const fuzzer = async () => {
    while (Date.now() < deadline) {
      const input = fuzzInput(rand);
      if (NEVER.test(input.toString('latin1'))) continue;
      cases++;
      const c = await RawClient.connect(ports.main);
      // Split the input over two writes now and then, to cross read boundaries.
      const cut = rand() < 0.3 ? Math.floor(rand() * input.length) : input.length;
      c.write(input.subarray(0, cut));
      if (cut < input.length) {
        await sleep(1);
        c.write(input.subarray(cut));
      }
      if (rand() < 0.5) c.socket.end();
      await c.waitClosed(100);
      // Whatever legate said is well-formed RESP.
      const out = c.unread();
      let pos = 0;
      for (let end = replyEnd(out, pos); end !== -1; end = replyEnd(out, pos)) {
        if (out.toString('latin1', pos, pos + 21) === '-ERR Protocol error: ') protocolErrors++;
        pos = end;
      }
      c.close();
    }
  };
  await Promise.all([fuzzer(), fuzzer(), fuzzer(), fuzzer()]);
  const r = await load.stop();
  t.diagnostic(
    `seed ${seed}: ${cases} cases, ${protocolErrors} protocol errors, ${r.ok} checked replies`,
  );
  assert.equal(legate.child.exitCode, null, 'legate is running');
  assert.doesNotMatch(legate.output(), /worker \d+ died/);
  assert.deepEqual(r.wrong, [], `seed ${seed}`);
  assert.deepEqual(r.errors, [], `seed ${seed}`);
  assert.ok(cases > 200, `${cases} fuzz cases`);
  assert.ok(protocolErrors > 20, `${protocolErrors} protocol errors among ${cases} cases`);
  const c = await connect(ports.main);
  assert.equal(String(await c.call('PING')), 'PONG');
});

it('client_connections: past the limit (counted across both workers) new clients are refused and closed', async () => {
  const held: RawClient[] = [];
  const workers = new Set<number>();
  for (let i = 0; i < CLIENT_LIMIT; i++) {
    const c = await connect(ports.limited);
    workers.add(await workerOf(c, 2));
    held.push(c);
  }
  // The kernel spreads connections over both workers: each counts its own, the limit is their sum.
  assert.deepEqual([...workers].sort(), [0, 1], 'the held clients are on both workers');
  for (let i = 0; i < 6; i++) {
    const c = await connect(ports.limited);
    assert.equal(String((await c.read(1, 2000))[0]), '-ERR max number of clients reached\r\n');
    assert.ok(await c.waitClosed(2000), 'the refused client is closed');
  }
  for (const [i, c] of held.entries()) {
    assert.equal(String(await c.call('SET', `held:${i}`, i)), 'OK');
    assert.equal(String(await c.call('GET', `held:${i}`)), String(i));
  }
  // One leaves: one more may come in (once legate has seen it go), and then no more.
  held[0].close();
  await until(
    async () => {
      const c = await connect(ports.limited);
      const reply = String(await c.command('PING').catch(() => 'closed'));
      if (reply !== '+PONG\r\n') c.close();
      return reply === '+PONG\r\n';
    },
    3000,
    'a client admitted after one left',
  );
  const extra = await connect(ports.limited);
  assert.equal(String((await extra.read(1, 2000))[0]), '-ERR max number of clients reached\r\n');
});
