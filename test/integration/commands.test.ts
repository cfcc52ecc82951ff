// What a client sees of legate's command handling, over real sockets: cross-shard refusals and
// hash tags, unsupported and unknown commands, AUTH, SELECT, HELLO, inline commands, QUIT,
// DBSIZE and INFO summed over shards, protocol errors, and a pool on another database.
// One legate serves four pools: `plain` (hash_tag {}), `secured` (redis_auth, over shards that
// require a password), `db2` (redis_db: 2, over the same shards as `plain`) and `halfdown` (two
// of those shards and one where nothing listens, named to sort first).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { keysOnDistinctShards, locate, portOf } from '../helpers/keys.ts';
import {
  freePort,
  poolYaml,
  type RedisProcess,
  type RunningProcess,
  startLegate,
  startRedisServer,
  startShards,
  stopAll,
  writeConfig,
} from '../helpers/processes.ts';
import { decode, encode, holders, type RawClient, RawClients } from '../helpers/resp.ts';

const PASSWORD = 's3cret pass';

let shards: RedisProcess[] = [];
let secureShards: RedisProcess[] = [];
let legate: RunningProcess;
let plain: number;
let secured: number;
let db2: number;
let halfdown: number;
let config: { file: string; cleanup(): void };
const clients = new RawClients();

const connect = (port: number): Promise<RawClient> => clients.connect(port);

/** The same bytes sent to a plain redis-server: what Redis itself answers. */
async function redisAnswers(...args: (string | Buffer)[]): Promise<string> {
  const c = await connect(shards[0].port);
  return (await c.command(...args)).toString('latin1');
}

before(async () => {
  [shards, secureShards] = await Promise.all([
    startShards(3),
    Promise.all([0, 1].map(() => startRedisServer({ args: ['--requirepass', PASSWORD] }))),
  ]);
  // Port 1 on loopback: nothing listens there, and no port-0 bind of another process can take it.
  const dead = 1;
  [plain, secured, db2, halfdown] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const ports = shards.map((s) => s.port);
  config = writeConfig(
    [
      poolYaml({ name: 'plain', port: plain, shards: ports, extra: { hash_tag: '"{}"' } }),
      poolYaml({
        name: 'secured',
        port: secured,
        shards: secureShards.map((s) => s.port),
        extra: { redis_auth: `"${PASSWORD}"` },
      }),
      poolYaml({ name: 'db2', port: db2, shards: ports, extra: { redis_db: 2 } }),
      [
        'halfdown:',
        `  listen: 127.0.0.1:${halfdown}`,
        '  redis: true',
        '  servers:',
        `    - 127.0.0.1:${dead}:1 dead`,
        `    - 127.0.0.1:${ports[0]}:1`,
        `    - 127.0.0.1:${ports[1]}:1`,
        '',
      ].join('\n'),
    ].join(''),
  );
  legate = await startLegate(['-c', config.file, '-w', '2']);
});

after(async () => {
  clients.closeAll();
  await legate?.stop();
  await stopAll([...shards, ...secureShards]);
  config?.cleanup();
});

const CROSSSHARD = "-CROSSSHARD Keys in request don't hash to the same shard\r\n";

test('multi-key commands across shards get CROSSSHARD and change nothing', async () => {
  const [a, b, c] = await keysOnDistinctShards(config.file, 'cs:', 3, 'plain');
  const client = await connect(plain);
  assert.equal(String(await client.call('SET', a.key, 'A')), 'OK');
  assert.equal(await client.call('SADD', b.key, 'm1', 'm2'), 2);
  assert.equal(await client.call('SADD', c.key, 'm3'), 1);
  const refused: (string | number)[][] = [
    ['RENAME', a.key, b.key],
    ['SMOVE', b.key, c.key, 'm1'],
    ['SUNIONSTORE', a.key, b.key, c.key],
    ['SINTER', b.key, c.key],
    ['LMOVE', b.key, c.key, 'LEFT', 'RIGHT'],
    ['EVAL', 'return 1', 2, a.key, b.key],
  ];
  for (const args of refused) {
    assert.equal((await client.command(...args)).toString(), CROSSSHARD, args.join(' '));
  }
  // Nothing moved: each key is where it was, with what it had.
  assert.deepEqual(
    await holders(
      shards.map((s) => s.port),
      a.key,
    ),
    [a.port],
  );
  assert.deepEqual(await client.call('SMEMBERS', c.key), [Buffer.from('m3')]);
  assert.equal(await client.call('SCARD', b.key), 2);
  assert.equal(String(await client.call('PING')), 'PONG');
});

test('the same commands succeed when a hash tag puts the keys on one shard', async () => {
  const where = await locate(
    config.file,
    ['{user:7}a', '{user:7}s1', '{user:7}s2', 'user:7'],
    'plain',
  );
  assert.equal(new Set(where.values()).size, 1, 'a {} tag hashes only what is inside it');
  const client = await connect(plain);
  assert.equal(String(await client.call('SET', '{user:7}a', 'A')), 'OK');
  assert.equal(String(await client.call('RENAME', '{user:7}a', '{user:7}b')), 'OK');
  assert.deepEqual(await client.call('GET', '{user:7}b'), Buffer.from('A'));
  assert.equal(await client.call('SADD', '{user:7}s1', 'x', 'y'), 2);
  assert.equal(await client.call('SADD', '{user:7}s2', 'y', 'z'), 2);
  assert.equal(await client.call('SMOVE', '{user:7}s1', '{user:7}s2', 'x'), 1);
  assert.equal(await client.call('SUNIONSTORE', '{user:7}u', '{user:7}s1', '{user:7}s2'), 3);
  assert.equal(await client.call('EVAL', "return redis.call('SCARD', KEYS[1])", 1, '{user:7}u'), 3);
  const shard = portOf(where.get('{user:7}a')!);
  for (const k of ['{user:7}b', '{user:7}s1', '{user:7}s2', '{user:7}u']) {
    assert.deepEqual(
      await holders(
        shards.map((s) => s.port),
        k,
      ),
      [shard],
      k,
    );
  }
});

test('unsupported commands get an error naming the command and the connection stays usable', async () => {
  const client = await connect(plain);
  const commands: string[][] = [
    ['MULTI'],
    ['EXEC'],
    ['WATCH', 'k'],
    ['BLPOP', 'k', '0'],
    ['BRPOPLPUSH', 'a', 'b', '0'],
    ['SUBSCRIBE', 'news'],
    ['PSUBSCRIBE', 'n*'],
    ['PUBLISH', 'news', 'x'],
    ['KEYS', '*'],
    ['SCAN', '0'],
    ['RANDOMKEY'],
    ['FLUSHALL'],
    ['FLUSHDB'],
    ['DEBUG', 'SLEEP', '0'],
    ['MONITOR'],
    ['CLIENT', 'LIST'],
    ['SCRIPT', 'FLUSH'],
    ['SHUTDOWN', 'NOSAVE'],
  ];
  // All in one write, each followed by a PING, so a stuck or closed connection shows at once.
  client.write(Buffer.concat(commands.flatMap((args) => [encode(...args), encode('PING')])));
  const replies = await client.read(commands.length * 2);
  for (let i = 0; i < commands.length; i++) {
    const name = commands[i][0].toLowerCase();
    const reply = replies[i * 2].toString();
    const shown = name === 'client' || name === 'script' ? `${name} ` : name;
    assert.match(
      reply,
      new RegExp(
        `^-ERR unsupported command '${shown}[^']*' in legate's sharded mode: [^\\r\\n]+\\r\\n$`,
      ),
      commands[i].join(' '),
    );
    assert.equal(replies[i * 2 + 1].toString(), '+PONG\r\n', `PING after ${commands[i][0]}`);
  }
  assert.equal(String(await client.call('SET', 'after:unsupported', 'v')), 'OK');
  // FLUSHALL and SHUTDOWN went nowhere: the shards still hold their keys and answer.
  for (const s of shards) {
    const direct = await connect(s.port);
    assert.equal(String(await direct.call('PING')), 'PONG');
  }
  assert.deepEqual(await client.call('GET', 'after:unsupported'), Buffer.from('v'));
});

test('unknown commands and wrong arity get the errors Redis gives, and the connection stays', async () => {
  const client = await connect(plain);
  const cases: (string | Buffer)[][] = [
    ['NOSUCH', 'a', 'b'],
    ['nosuch'],
    ['NOSUCH', 'x'.repeat(200), 'y'],
    ['NOSUCH', 'line\r\nbreak', Buffer.from([0xc3, 0x28, 0x00, 0x41])],
    ['GET'],
    ['GET', 'a', 'b'],
    ['SET', 'k'],
    ['MSET', 'a', '1', 'b'],
    ['HSET', 'h', 'f'],
    ['CONFIG', 'GET'],
    ['OBJECT', 'NOPE', 'k'],
  ];
  for (const args of cases) {
    const expected = await redisAnswers(...args);
    assert.match(expected, /^-ERR /);
    assert.equal((await client.command(...args)).toString('latin1'), expected, args.join(' '));
    assert.equal(String(await client.call('PING')), 'PONG');
  }
});

test('AUTH: NOAUTH before it, WRONGPASS for a bad password, and legate authenticates to the shards', async () => {
  const client = await connect(secured);
  const noauth = '-NOAUTH Authentication required.\r\n';
  assert.equal((await client.command('GET', 'k')).toString(), noauth);
  assert.equal((await client.command('PING')).toString(), noauth);
  assert.equal((await client.command('MGET', 'a', 'b', 'c')).toString(), noauth);
  // The same words as a password-protected redis-server's, which also checks the command's name
  // and arity before asking for a password.
  const direct = await connect(secureShards[0].port);
  for (const args of [['GET', 'k'], ['NOSUCH', 'x'], ['GET']]) {
    const expected = (await direct.command(...args)).toString();
    assert.equal((await client.command(...args)).toString(), expected, args.join(' '));
  }
  const wrong = (await direct.command('AUTH', 'nope')).toString();
  assert.match(wrong, /^-WRONGPASS /);
  assert.equal((await client.command('AUTH', 'nope')).toString(), wrong);
  assert.equal((await client.command('AUTH', 'default', 'nope')).toString(), wrong);
  assert.equal((await client.command('GET', 'k')).toString(), noauth);
  assert.equal((await client.command('AUTH', PASSWORD)).toString(), '+OK\r\n');
  // Keys on both shards: legate's own connections to each authenticated themselves.
  const args: string[] = [];
  for (let i = 0; i < 20; i++)
    args.push(`auth:${i}:${Math.imul(i + 1, 2654435761) >>> 0}`, `v${i}`);
  assert.equal((await client.command('MSET', ...args)).toString(), '+OK\r\n');
  const keys = args.filter((_, i) => i % 2 === 0);
  assert.deepEqual(
    await client.call('MGET', ...keys),
    keys.map((_, i) => Buffer.from(`v${i}`)),
  );
  assert.equal(await client.call('DBSIZE'), 20);
  for (const s of secureShards) {
    const d = await connect(s.port);
    assert.equal((await d.command('AUTH', PASSWORD)).toString(), '+OK\r\n');
    assert.ok(Number(await d.call('DBSIZE')) > 0, `shard ${s.port} holds some keys`);
  }
  // HELLO can authenticate too; a fresh connection starts unauthenticated.
  const other = await connect(secured);
  assert.equal((await other.command('GET', keys[0])).toString(), noauth);
  const hello = decode(await other.command('HELLO', '2', 'AUTH', 'default', PASSWORD));
  assert.ok(Array.isArray(hello));
  assert.deepEqual(await other.call('GET', keys[0]), Buffer.from('v0'));
});

test('AUTH on a pool without redis_auth is an error, as on a server without a password', async () => {
  const client = await connect(plain);
  const expected = await redisAnswers('AUTH', 'whatever');
  assert.match(expected, /^-ERR AUTH <password> called without any password configured/);
  assert.equal((await client.command('AUTH', 'whatever')).toString(), expected);
  assert.equal(String(await client.call('PING')), 'PONG');
});

test("SELECT of the pool's database works, any other is refused", async () => {
  const a = await connect(plain);
  assert.equal((await a.command('SELECT', '0')).toString(), '+OK\r\n');
  assert.match((await a.command('SELECT', '1')).toString(), /^-ERR SELECT is not allowed/);
  assert.equal(
    (await a.command('SELECT', 'x')).toString(),
    '-ERR value is not an integer or out of range\r\n',
  );
  const b = await connect(db2);
  assert.equal((await b.command('SELECT', '2')).toString(), '+OK\r\n');
  assert.match((await b.command('SELECT', '0')).toString(), /^-ERR SELECT is not allowed/);
  assert.equal(String(await b.call('PING')), 'PONG');
});

test('HELLO 3 gets NOPROTO, HELLO 2 and HELLO answer in RESP2', async () => {
  const client = await connect(plain);
  assert.equal(
    (await client.command('HELLO', '3')).toString(),
    '-NOPROTO unsupported protocol version\r\n',
  );
  for (const args of [['HELLO', '2'], ['HELLO']]) {
    const reply = decode(await client.command(...args));
    assert.ok(Array.isArray(reply), args.join(' '));
    const fields = new Map<string, unknown>();
    for (let i = 0; i < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
    assert.equal(fields.get('proto'), 2);
    assert.equal(String(fields.get('server')), 'redis');
    assert.equal(String(fields.get('mode')), 'standalone');
  }
  // Still RESP2 afterwards.
  assert.equal((await client.command('PING')).toString(), '+PONG\r\n');
});

test('inline commands work, quoting and escapes included', async () => {
  const client = await connect(plain);
  client.write('PING\r\n');
  assert.deepEqual((await client.read(1)).map(String), ['+PONG\r\n']);
  client.write(
    'SET inline:k "a b"\r\nGET inline:k\r\nPING\nSET inline:x "\\x41\\r\\n" \r\nGET inline:x\r\n',
  );
  assert.deepEqual((await client.read(5)).map(String), [
    '+OK\r\n',
    '$3\r\na b\r\n',
    '+PONG\r\n',
    '+OK\r\n',
    '$3\r\nA\r\n\r\n',
  ]);
  // An inline command split over two writes.
  client.write("ECHO 'it\\'s");
  await new Promise((r) => setTimeout(r, 30));
  client.write("'\r\n");
  assert.deepEqual((await client.read(1)).map(String), ["$4\r\nit's\r\n"]);
});

test('QUIT answers +OK, closes, and what followed it in the same write is not run', async () => {
  const client = await connect(plain);
  client.write(
    Buffer.concat([encode('SET', 'quit:k', '1'), encode('QUIT'), encode('SET', 'quit:k', '2')]),
  );
  assert.deepEqual((await client.read(2)).map(String), ['+OK\r\n', '+OK\r\n']);
  assert.ok(await client.waitClosed(), 'legate closed the connection');
  assert.equal(client.unread().length, 0);
  const other = await connect(plain);
  assert.deepEqual(await other.call('GET', 'quit:k'), Buffer.from('1'));
});

test('a client that closes its side after its last request still gets every reply', async () => {
  // As `printf … | nc -N` does, and as redis-server answers it.
  const requests = Buffer.concat([
    encode('SET', 'halfclose:k', 'v'),
    encode('GET', 'halfclose:k'),
    encode('PING'),
    encode('MGET', 'halfclose:k', 'halfclose:a', 'halfclose:b', 'halfclose:c'),
    encode('DBSIZE'),
  ]);
  const answers: string[][] = [];
  for (const port of [shards[0].port, plain]) {
    const client = await connect(port);
    client.socket.end(requests);
    answers.push((await client.read(5)).map(String));
    assert.ok(await client.waitClosed(), 'then the connection is closed');
  }
  const [fromRedis, fromLegate] = answers;
  assert.deepEqual(fromLegate.slice(0, 4), fromRedis.slice(0, 4));
  assert.match(fromLegate[4], /^:\d+\r\n$/);
});

test('DBSIZE and INFO keyspace sum the shards', async () => {
  const client = await connect(plain);
  const args: string[] = [];
  for (let i = 0; i < 60; i++) args.push(`count:${i}:${(i * 2654435761) >>> 0}`, 'x');
  assert.equal((await client.command('MSET', ...args)).toString(), '+OK\r\n');
  let keys = 0;
  let expires = 0;
  for (const s of shards) {
    const d = await connect(s.port);
    const n = Number(await d.call('DBSIZE'));
    assert.ok(n > 0, `shard ${s.port} has keys`);
    keys += n;
    const info = String(await d.call('INFO', 'keyspace'));
    expires += Number(/db0:keys=\d+,expires=(\d+)/.exec(info)?.[1] ?? 0);
  }
  assert.ok(keys >= 60);
  assert.equal(await client.call('DBSIZE'), keys);
  for (const section of [[], ['keyspace'], ['all']]) {
    const info = String(await client.call('INFO', ...section));
    assert.match(info, /# Keyspace\r\n/);
    assert.match(info, new RegExp(`\\r\\ndb0:keys=${keys},expires=${expires},`), section.join());
  }
  // The db2 pool counts database 2 only.
  const other = await connect(db2);
  assert.equal((await other.command('SET', 'db2:count', 'x')).toString(), '+OK\r\n');
  let inDb2 = 0;
  for (const s of shards) {
    const d = await connect(s.port);
    await d.command('SELECT', '2');
    inDb2 += Number(await d.call('DBSIZE'));
  }
  assert.equal(await other.call('DBSIZE'), inDb2);
});

test('a malformed request gets a protocol error and its connection is closed; others carry on', async () => {
  const bystander = await connect(plain);
  assert.equal(String(await bystander.call('PING')), 'PONG');
  // Each with Redis's own words for it, as redis-server answers the same bytes (checked below),
  // except a bulk string followed by something other than CR LF, which Redis does not check.
  const cases: { bad: string; redis: boolean; error?: string }[] = [
    { bad: '*1\r\n$x\r\n', redis: true },
    { bad: '*x\r\n', redis: true },
    { bad: '*2\r\n$3\r\nGET\r\n:1\r\n', redis: true },
    { bad: 'SET a "b\r\n', redis: true },
    { bad: `*1\r\n$${2 ** 40}\r\n`, redis: true },
    {
      bad: '*1\r\n$3\r\nabcd\r\n',
      redis: false,
      error: '-ERR Protocol error: bulk string not terminated by CRLF\r\n',
    },
  ];
  for (const { bad, redis, error } of cases) {
    let expected = error ?? '';
    if (redis) {
      const direct = await connect(shards[0].port);
      direct.write(`PING\r\n${bad}`);
      expected = (await direct.read(2)).map(String)[1];
      assert.ok(await direct.waitClosed(), 'redis-server closes too');
    }
    assert.match(expected, /^-ERR Protocol error: /);
    const client = await connect(plain);
    // A good command first: its reply comes before the error, in order.
    client.write(`PING\r\n${bad}`);
    assert.deepEqual(
      (await client.read(2)).map(String),
      ['+PONG\r\n', expected],
      JSON.stringify(bad),
    );
    assert.ok(await client.waitClosed(), `closed after ${JSON.stringify(bad)}`);
    assert.equal(String(await bystander.call('PING')), 'PONG');
  }
  assert.equal(String(await bystander.call('SET', 'bystander', 'ok')), 'OK');
});

test('a pool with redis_db: 2 writes into database 2 of the shards', async () => {
  const client = await connect(db2);
  const ports = shards.map((s) => s.port);
  assert.equal((await client.command('SET', 'in:db2', 'two')).toString(), '+OK\r\n');
  assert.deepEqual(await client.call('GET', 'in:db2'), Buffer.from('two'));
  const where = await locate(config.file, ['in:db2'], 'db2');
  assert.deepEqual(await holders(ports, 'in:db2', 2), [portOf(where.get('in:db2')!)]);
  assert.deepEqual(await holders(ports, 'in:db2', 0), []);
  // And the plain pool, on database 0 of the same shards, does not see it.
  const p = await connect(plain);
  assert.equal(await p.call('GET', 'in:db2'), null);
});

test('with one shard down, INFO keyspace sums the live shards and DBSIZE says which is down', async () => {
  const client = await connect(halfdown);
  for (const s of shards.slice(0, 2)) {
    const d = await connect(s.port);
    assert.equal(String(await d.call('SET', 'halfdown:seed', 'x')), 'OK');
  }
  // Asked several times: first while legate tries to connect to the dead shard, then while that
  // shard is in connect backoff and its part of the fan-out fails at once.
  for (let round = 0; round < 4; round++) {
    let live = 0;
    for (const s of shards.slice(0, 2)) {
      const d = await connect(s.port);
      live += Number(await d.call('DBSIZE'));
    }
    const info = String(await client.call('INFO', 'keyspace'));
    assert.match(info, new RegExp(`\\r\\ndb0:keys=${live},`), `round ${round}: ${info}`);
    const dbsize = (await client.command('DBSIZE')).toString();
    assert.match(dbsize, /^-ERR shard dead .*ECONNREFUSED/, `round ${round}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(String(await client.call('PING')), 'PONG');
});
