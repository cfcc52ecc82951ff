import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { withRedisServer } from '../../scripts/gen-redis-commands.ts';
import {
  arityOk,
  COMMANDS,
  CommandFlag,
  type CommandInfo,
  commandByName,
  extractKeys,
  KEYS_ERR_ARITY,
  KEYS_ERR_NEGATIVE,
  KEYS_ERR_NOT_INTEGER,
  KEYS_ERR_NUMKEYS_TOO_LARGE,
  KEYS_ERR_OUT_TOO_SMALL,
  KEYS_ERR_SYNTAX,
  KeyFinder,
  keysErrorMessage,
  lookupCommand,
  lookupSubcommand,
} from '../../workers/redis/commands/lookup.ts';
import { CommandId, FIRST_TABLE_ID, Reason } from '../../workers/redis/commands/policy.ts';
import { COMMAND_TABLE, REDIS_VERSION } from '../../workers/redis/commands/table.generated.ts';
import { parseIntBytes } from '../../workers/redis/resp/integer.ts';

const ROOT = join(import.meta.dirname, '../..');
const TABLE = join(ROOT, 'workers/redis/commands/table.generated.ts');
const hasRedis = spawnSync('redis-server', ['--version']).error === undefined;
const NO_REDIS = 'redis-server is not installed (apt-get install redis-server), so this is skipped';

type Request = { buf: Uint8Array; argc: number; argStart: Int32Array; argEnd: Int32Array };

/** Encodes args as a RESP request, as the parser would see it, and records where each lies. */
function request(...args: string[]): Request {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  const argStart = new Int32Array(args.length);
  const argEnd = new Int32Array(args.length);
  let at = parts[0].length;
  args.forEach((a, i) => {
    const head = Buffer.from(`$${Buffer.byteLength(a)}\r\n`);
    const body = Buffer.from(a);
    argStart[i] = at + head.length;
    argEnd[i] = argStart[i] + body.length;
    parts.push(head, body, Buffer.from('\r\n'));
    at = argEnd[i] + 2;
  });
  return { buf: new Uint8Array(Buffer.concat(parts)), argc: args.length, argStart, argEnd };
}

/** Resolves the command (and subcommand) as the router would. */
function resolve(r: Request): CommandInfo | undefined {
  const info = lookupCommand(r.buf, r.argStart[0], r.argEnd[0]);
  if (info?.hasSubcommands && r.argc >= 2) {
    return lookupSubcommand(info, r.buf, r.argStart[1], r.argEnd[1]);
  }
  return info;
}

function lookup(name: string): CommandInfo | undefined {
  const r = request(name);
  return lookupCommand(r.buf, r.argStart[0], r.argEnd[0]);
}

/** Key argument indexes, or the negative error code. */
function keys(...args: string[]): number[] | number {
  const r = request(...args);
  const info = resolve(r);
  assert.ok(info, `no command ${args[0]}`);
  const out = new Int32Array(r.argc);
  const n = extractKeys(info, r.buf, r.argc, r.argStart, r.argEnd, out);
  return n < 0 ? n : [...out.subarray(0, n)];
}

function keyNames(...args: string[]): string[] | number {
  const k = keys(...args);
  return typeof k === 'number' ? k : k.map((i) => args[i]);
}

describe('lookupCommand', () => {
  it('is case-insensitive and reads the name where it lies in the buffer', () => {
    for (const name of ['get', 'GET', 'gEt']) assert.equal(lookup(name)?.name, 'get');
    assert.equal(lookup('ZRANGEBYSCORE')?.name, 'zrangebyscore');
    assert.equal(lookup('restore-asking')?.name, 'restore-asking');
    const r = request('HSET', 'GET', 'x');
    assert.equal(lookupCommand(r.buf, r.argStart[1], r.argEnd[1])?.name, 'get');
  });

  it('gives undefined for unknown names, prefixes, empty names and subcommand paths', () => {
    for (const name of ['nosuch', 'ge', 'gett', '', 'config|get', 'get\0', 'x'.repeat(100)]) {
      assert.equal(lookup(name), undefined, JSON.stringify(name));
    }
  });

  it('finds every table entry by its own name', () => {
    for (const info of COMMANDS) {
      const [top, sub] = info.name.split('|');
      const found = lookup(top.toUpperCase());
      if (sub === undefined) {
        assert.equal(found, info);
      } else {
        const r = request(sub.toUpperCase());
        assert.equal(lookupSubcommand(found!, r.buf, r.argStart[0], r.argEnd[0]), info);
      }
      assert.equal(commandByName(info.name), info);
    }
  });

  it('finds subcommands under their container only', () => {
    const r = request('config', 'GET', 'maxmemory');
    const config = lookupCommand(r.buf, r.argStart[0], r.argEnd[0])!;
    assert.equal(config.hasSubcommands, true);
    const get = lookupSubcommand(config, r.buf, r.argStart[1], r.argEnd[1]);
    assert.equal(get?.name, 'config|get');
    assert.equal(get?.parent, config);
    assert.equal(resolve(request('Object', 'Encoding', 'k'))?.name, 'object|encoding');
    assert.equal(resolve(request('XINFO', 'stream', 's'))?.name, 'xinfo|stream');
    assert.equal(resolve(request('CLIENT', 'SETINFO', 'LIB-NAME', 'x'))?.name, 'client|setinfo');
    assert.equal(resolve(request('config', 'nosuch')), undefined);
    // ENCODING is OBJECT's, not CONFIG's; GET is not a container.
    assert.equal(resolve(request('config', 'encoding')), undefined);
    const get2 = lookup('get')!;
    assert.equal(get2.hasSubcommands, false);
    assert.equal(lookupSubcommand(get2, r.buf, r.argStart[1], r.argEnd[1]), undefined);
  });

  it('gives local commands their CommandId and the rest unique ids above them', () => {
    assert.equal(lookup('PING')?.id, CommandId.PING);
    assert.equal(resolve(request('client', 'setname', 'x'))?.id, CommandId.CLIENT_SETNAME);
    assert.equal(resolve(request('command', 'count'))?.id, CommandId.COMMAND_COUNT);
    assert.equal(lookup('command')?.id, CommandId.COMMAND);
    const ids = COMMANDS.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const c of COMMANDS) {
      assert.equal(c.kind === 'local', c.id < FIRST_TABLE_ID, c.name);
    }
    assert.equal(
      Object.values(CommandId).every((id) => COMMANDS.some((c) => c.id === id)),
      true,
      'every CommandId names a command in the table',
    );
  });

  it('maps every flag the table uses to a CommandFlag bit', () => {
    const known = new Set(Object.keys(CommandFlag).map((k) => k.toLowerCase()));
    for (const spec of COMMAND_TABLE) {
      for (const f of spec.flags) assert.ok(known.has(f), `${spec.name}: flag ${f}`);
    }
    const get = lookup('get')!;
    assert.equal(get.flags, CommandFlag.READONLY | CommandFlag.FAST);
    assert.ok(lookup('blpop')!.flags & CommandFlag.BLOCKING);
  });
});

describe('arityOk', () => {
  it('is exact for positive arity and a minimum for negative', () => {
    const get = lookup('get')!;
    assert.equal(get.arity, 2);
    assert.deepEqual(
      [1, 2, 3].map((n) => arityOk(get, n)),
      [false, true, false],
    );
    const mget = lookup('mget')!;
    assert.equal(mget.arity, -2);
    assert.deepEqual(
      [1, 2, 9].map((n) => arityOk(mget, n)),
      [false, true, true],
    );
    // A subcommand's arity counts the container name.
    assert.equal(arityOk(resolve(request('object', 'encoding', 'k'))!, 3), true);
    assert.equal(arityOk(resolve(request('object', 'encoding'))!, 2), false);
  });
});

describe('parseIntBytes', () => {
  const parse = (s: string) => {
    const b = Buffer.from(`xx${s}yy`);
    return parseIntBytes(b, 2, 2 + b.length - 4);
  };

  it('follows string2ll', () => {
    assert.equal(parse('0'), 0);
    assert.equal(parse('7'), 7);
    assert.equal(parse('-12'), -12);
    assert.equal(parse('1234567890'), 1234567890);
    // Past 2^53 the value is approximate: close enough to compare with an argument count.
    assert.ok(parse('9223372036854775807') > 9.2e18);
    assert.ok(parse('-9223372036854775808') < -9.2e18);
    for (const bad of ['', '-', '+1', '01', '-0', ' 1', '1 ', '1a', '1.5', '9223372036854775808']) {
      assert.ok(Number.isNaN(parse(bad)), JSON.stringify(bad));
    }
    assert.ok(Number.isNaN(parse('-9223372036854775809')));
    assert.ok(Number.isNaN(parse('99999999999999999999')));
  });
});

describe('extractKeys', () => {
  it('finds the one key of single-key commands', () => {
    assert.deepEqual(keys('GET', 'k'), [1]);
    assert.deepEqual(keys('SET', 'k', 'v', 'EX', '10', 'NX'), [1]);
    assert.deepEqual(keys('HSET', 'h', 'f', 'v', 'f2', 'v2'), [1]);
    assert.equal(lookup('get')!.keyFinder, KeyFinder.FIXED);
  });

  it('finds every key of MGET, MSET (keys at 1, 3, 5), DEL', () => {
    assert.deepEqual(keys('MGET', 'a', 'b', 'c'), [1, 2, 3]);
    assert.deepEqual(keys('MSET', 'a', '1', 'b', '2', 'c', '3'), [1, 3, 5]);
    assert.deepEqual(keys('DEL', 'a'), [1]);
    assert.deepEqual(keys('del', 'a', 'b', 'c', 'd'), [1, 2, 3, 4]);
    assert.deepEqual(keys('MSETNX', 'a', '1', 'b', '2'), [1, 3]);
  });

  it('refuses an MSET whose keys and values do not pair up', () => {
    assert.equal(keys('MSET', 'a', '1', 'b'), KEYS_ERR_ARITY);
    assert.equal(keys('MSETNX', 'a', '1', 'b'), KEYS_ERR_ARITY);
  });

  it('reads EVAL and FCALL numkeys', () => {
    assert.deepEqual(keys('EVAL', 'return 1', '0'), []);
    assert.deepEqual(keys('EVAL', 'return 1', '0', 'arg'), []);
    assert.deepEqual(keyNames('EVAL', 'return 1', '2', 'k1', 'k2', 'a1'), ['k1', 'k2']);
    assert.deepEqual(keyNames('evalsha_ro', 'abc', '1', 'k1'), ['k1']);
    assert.deepEqual(keyNames('FCALL', 'f', '2', 'k1', 'k2'), ['k1', 'k2']);
    assert.equal(keys('EVAL', 's', 'two', 'k1'), KEYS_ERR_NOT_INTEGER);
    assert.equal(keys('EVAL', 's', '01', 'k1'), KEYS_ERR_NOT_INTEGER);
    assert.equal(keys('EVAL', 's', '-1'), KEYS_ERR_NEGATIVE);
    assert.equal(keys('EVAL', 's', '3', 'k1', 'k2'), KEYS_ERR_NUMKEYS_TOO_LARGE);
    assert.equal(keys('EVAL', 's', '99999999999999999999'), KEYS_ERR_NOT_INTEGER);
    assert.equal(keys('EVAL', 's', '9223372036854775807'), KEYS_ERR_NUMKEYS_TOO_LARGE);
  });

  it('reads numkeys of ZUNIONSTORE, ZUNION, SINTERCARD, LMPOP, ZMPOP', () => {
    assert.deepEqual(keyNames('ZUNIONSTORE', 'd', '2', 'a', 'b', 'WEIGHTS', '1', '2'), [
      'd',
      'a',
      'b',
    ]);
    assert.deepEqual(keyNames('ZUNION', '2', 'a', 'b', 'WITHSCORES'), ['a', 'b']);
    assert.deepEqual(keyNames('SINTERCARD', '2', 'a', 'b', 'LIMIT', '5'), ['a', 'b']);
    assert.deepEqual(keyNames('LMPOP', '2', 'a', 'b', 'LEFT', 'COUNT', '3'), ['a', 'b']);
    assert.deepEqual(keyNames('ZMPOP', '1', 'z', 'MIN'), ['z']);
    assert.deepEqual(keyNames('BLMPOP', '0', '2', 'a', 'b', 'LEFT'), ['a', 'b']);
    assert.equal(keys('ZUNIONSTORE', 'd', 'x', 'a'), KEYS_ERR_NOT_INTEGER);
    assert.equal(keys('LMPOP', '5', 'a', 'LEFT'), KEYS_ERR_NUMKEYS_TOO_LARGE);
  });

  it('finds XREAD STREAMS keys: the first half of what follows the keyword', () => {
    assert.deepEqual(keyNames('XREAD', 'COUNT', '2', 'STREAMS', 's1', 's2', '0', '0'), [
      's1',
      's2',
    ]);
    assert.deepEqual(keyNames('xread', 'streams', 's1', '$'), ['s1']);
    assert.deepEqual(keyNames('XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', 's', '>'), ['s']);
    // COMMAND GETKEYS, following the spec, says [s1]; XREAD itself replies "Unbalanced...".
    assert.equal(keys('XREAD', 'STREAMS', 's1', 's2', '0'), KEYS_ERR_SYNTAX);
    // No STREAMS keyword: no keys (Redis then replies a syntax error itself).
    assert.deepEqual(keys('XREAD', 'COUNT', '2', 's1'), []);
  });

  it('finds keys of subcommands: OBJECT ENCODING, XINFO STREAM, MEMORY USAGE, XGROUP', () => {
    assert.deepEqual(keyNames('OBJECT', 'ENCODING', 'k'), ['k']);
    assert.deepEqual(keyNames('XINFO', 'STREAM', 's', 'FULL'), ['s']);
    assert.deepEqual(keyNames('MEMORY', 'USAGE', 'k', 'SAMPLES', '5'), ['k']);
    assert.deepEqual(keyNames('XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM'), ['s']);
    assert.deepEqual(keys('OBJECT', 'HELP'), []);
  });

  it('finds the destination and sources of BITOP, and both keys of LCS and RENAME', () => {
    assert.deepEqual(keyNames('BITOP', 'AND', 'd', 'a', 'b'), ['d', 'a', 'b']);
    assert.deepEqual(keyNames('BITOP', 'NOT', 'd', 'a'), ['d', 'a']);
    assert.deepEqual(keyNames('LCS', 'a', 'b', 'LEN'), ['a', 'b']);
    assert.deepEqual(keyNames('RENAME', 'a', 'b'), ['a', 'b']);
  });

  it('routes PFMERGE without sources by its destination, as Redis runs it', () => {
    assert.deepEqual(keyNames('PFMERGE', 'd'), ['d']);
    assert.deepEqual(keyNames('PFMERGE', 'd', 'a', 'b'), ['d', 'a', 'b']);
  });

  it('finds SORT STORE past BY/LIMIT/GET arguments, the last STORE winning', () => {
    assert.deepEqual(keyNames('SORT', 'k'), ['k']);
    assert.deepEqual(keyNames('SORT', 'k', 'BY', 'w_*', 'LIMIT', '0', '10', 'GET', 'o_*'), ['k']);
    assert.deepEqual(keyNames('sort', 'k', 'ALPHA', 'store', 'd'), ['k', 'd']);
    assert.deepEqual(keyNames('SORT', 'k', 'STORE', 'a', 'STORE', 'b'), ['k', 'b']);
    // STORE as a pattern argument is not the keyword.
    assert.deepEqual(keyNames('SORT', 'k', 'GET', 'store', 'BY', 'store'), ['k']);
    assert.deepEqual(keyNames('SORT_RO', 'k', 'STORE', 'd'), ['k']);
  });

  it('finds GEORADIUS STORE/STOREDIST only when present', () => {
    assert.deepEqual(keyNames('GEORADIUS', 'g', '0', '0', '1', 'km'), ['g']);
    assert.deepEqual(keyNames('GEORADIUS', 'g', '0', '0', '1', 'km', 'STORE', 'd'), ['g', 'd']);
    assert.deepEqual(
      keyNames('GEORADIUS', 'g', '0', '0', '1', 'km', 'STORE', 'd', 'STOREDIST', 'e'),
      ['g', 'd', 'e'],
    );
    // A trailing keyword has no key after it; the spec does not match it.
    assert.deepEqual(keyNames('GEORADIUS', 'g', '0', '0', '1', 'km', 'STORE'), ['g']);
  });

  it('handles MIGRATE: the key, or the keys after KEYS, skipping AUTH passwords', () => {
    assert.deepEqual(keyNames('MIGRATE', 'h', '6379', 'k', '0', '5000'), ['k']);
    assert.deepEqual(keyNames('MIGRATE', 'h', '6379', '', '0', '5000', 'KEYS', 'a', 'b'), [
      'a',
      'b',
    ]);
    assert.deepEqual(
      keyNames('MIGRATE', 'h', '6379', '', '0', '5000', 'AUTH', 'keys', 'KEYS', 'a'),
      ['a'],
    );
    assert.deepEqual(
      keyNames('MIGRATE', 'h', '6379', '', '0', '5000', 'AUTH2', 'u', 'keys', 'KEYS', 'a'),
      ['a'],
    );
    assert.equal(keys('MIGRATE', 'h', '6379', 'k', '0', '5000', 'KEYS', 'a'), KEYS_ERR_SYNTAX);
  });

  it('finds no keys for keyless commands and shard channels', () => {
    assert.deepEqual(keys('PING'), []);
    assert.deepEqual(keys('TIME'), []);
    assert.deepEqual(keys('SPUBLISH', 'channel', 'msg'), []);
  });

  it('reports an out array that is too small', () => {
    const r = request('MGET', 'a', 'b', 'c');
    const n = extractKeys(resolve(r)!, r.buf, r.argc, r.argStart, r.argEnd, new Int32Array(2));
    assert.equal(n, KEYS_ERR_OUT_TOO_SMALL);
  });

  it('has a message for each error code', () => {
    const evalInfo = lookup('eval')!;
    assert.equal(keysErrorMessage(KEYS_ERR_NEGATIVE, evalInfo), "Number of keys can't be negative");
    assert.equal(
      keysErrorMessage(KEYS_ERR_ARITY, lookup('mset')!),
      "wrong number of arguments for 'mset' command",
    );
  });
});

describe('policy', () => {
  const kindOf = (...args: string[]) => resolve(request(...args))?.kind;

  it('routes single-key commands by their key', () => {
    for (const name of ['GET', 'SET', 'HGETALL', 'ZADD', 'XADD', 'INCR', 'EXPIRE', 'RESTORE']) {
      assert.equal(kindOf(name), 'single', name);
    }
    assert.equal(kindOf('OBJECT', 'ENCODING', 'k'), 'single');
    assert.equal(kindOf('XINFO', 'STREAM', 's'), 'single');
    assert.equal(kindOf('MEMORY', 'USAGE', 'k'), 'single');
    assert.equal(kindOf('XGROUP', 'CREATE', 's', 'g', '$'), 'single');
  });

  it('fans out MGET, MSET, DEL, UNLINK, TOUCH, EXISTS and nothing else', () => {
    const fanout = COMMANDS.filter((c) => c.kind === 'fanout').map((c) => c.name);
    assert.deepEqual(fanout.sort(), ['del', 'exists', 'mget', 'mset', 'touch', 'unlink']);
  });

  it('requires one shard for multi-key and movable-key commands', () => {
    const samehash = [
      'RENAME',
      'RENAMENX',
      'SMOVE',
      'SINTER',
      'SINTERSTORE',
      'SUNION',
      'SUNIONSTORE',
      'SDIFF',
      'SDIFFSTORE',
      'SINTERCARD',
      'ZUNION',
      'ZUNIONSTORE',
      'ZINTER',
      'ZINTERSTORE',
      'ZDIFF',
      'ZDIFFSTORE',
      'ZINTERCARD',
      'ZRANGESTORE',
      'LMOVE',
      'RPOPLPUSH',
      'PFMERGE',
      'PFCOUNT',
      'COPY',
      'BITOP',
      'EVAL',
      'EVALSHA',
      'EVAL_RO',
      'EVALSHA_RO',
      'FCALL',
      'FCALL_RO',
      'MSETNX',
      'LMPOP',
      'ZMPOP',
      'SORT',
      'GEORADIUS',
      'GEOSEARCHSTORE',
      'LCS',
    ];
    for (const name of samehash) assert.equal(kindOf(name), 'samehash', name);
  });

  it('answers connection and introspection commands locally', () => {
    for (const name of ['PING', 'ECHO', 'QUIT', 'SELECT', 'AUTH', 'HELLO', 'RESET', 'DBSIZE']) {
      assert.equal(kindOf(name), 'local', name);
    }
    assert.equal(kindOf('INFO'), 'local');
    assert.equal(kindOf('COMMAND'), 'local');
    for (const sub of ['COUNT', 'INFO', 'DOCS', 'LIST', 'GETKEYS']) {
      assert.equal(kindOf('COMMAND', sub), 'local', sub);
    }
    for (const sub of ['SETNAME', 'GETNAME', 'ID', 'INFO', 'SETINFO']) {
      assert.equal(kindOf('CLIENT', sub), 'local', sub);
    }
    assert.equal(kindOf('CONFIG', 'GET', 'x'), 'local');
  });

  it('refuses what cannot be sharded, with the reason', () => {
    const refused: [string[], string][] = [
      [['MULTI'], Reason.TRANSACTION],
      [['EXEC'], Reason.TRANSACTION],
      [['WATCH', 'k'], Reason.TRANSACTION],
      [['BLPOP', 'k', '0'], Reason.BLOCKING],
      [['BZMPOP', '0', '1', 'z', 'MIN'], Reason.BLOCKING],
      [['XREAD', 'STREAMS', 's', '0'], Reason.BLOCKING],
      [['WAIT', '1', '0'], Reason.BLOCKING],
      [['SUBSCRIBE', 'c'], Reason.PUBSUB],
      [['PUBLISH', 'c', 'm'], Reason.PUBSUB],
      [['SPUBLISH', 'c', 'm'], Reason.PUBSUB],
      [['PUBSUB', 'CHANNELS'], Reason.PUBSUB],
      [['KEYS', '*'], Reason.KEYSPACE],
      [['SCAN', '0'], Reason.KEYSPACE],
      [['RANDOMKEY'], Reason.KEYSPACE],
      [['FLUSHALL'], Reason.KEYSPACE],
      [['MOVE', 'k', '1'], Reason.DATABASE],
      [['SHUTDOWN'], Reason.ADMIN],
      [['DEBUG', 'SLEEP', '0'], Reason.ADMIN],
      [['MONITOR'], Reason.ADMIN],
      [['REPLICAOF', 'h', 'p'], Reason.ADMIN],
      [['MIGRATE', 'h', 'p', 'k', '0', '1'], Reason.ADMIN],
      [['CONFIG', 'SET', 'x', 'y'], Reason.ADMIN],
      [['ACL', 'WHOAMI'], Reason.ADMIN],
      [['MEMORY', 'STATS'], Reason.ADMIN],
      [['CLUSTER', 'INFO'], Reason.CLUSTER],
      [['READONLY'], Reason.CLUSTER],
      [['SCRIPT', 'LOAD', 's'], Reason.SCRIPTING],
      [['FUNCTION', 'LIST'], Reason.SCRIPTING],
      [['CLIENT', 'LIST'], Reason.CONNECTION],
      [['CLIENT', 'REPLY', 'OFF'], Reason.CONNECTION],
      [['TIME'], Reason.KEYLESS],
      [['LOLWUT'], Reason.KEYLESS],
      [['OBJECT', 'HELP'], Reason.KEYLESS],
      [['OBJECT'], Reason.SUBCOMMAND],
    ];
    for (const [args, reason] of refused) {
      const info = resolve(request(...args));
      assert.equal(info?.kind, 'unsupported', args.join(' '));
      assert.equal(info?.reason, reason, args.join(' '));
    }
  });

  it('leaves no keyless command routable, and gives every refusal a reason', () => {
    for (const c of COMMANDS) {
      if (c.kind === 'single' || c.kind === 'samehash' || c.kind === 'fanout') {
        assert.notEqual(c.keyFinder, KeyFinder.NONE, c.name);
      }
      assert.equal(c.kind === 'unsupported', c.reason !== undefined, c.name);
    }
  });
});

describe('the generated table', () => {
  it('has one sorted entry per command and subcommand', () => {
    const names = COMMAND_TABLE.map((c) => c.name);
    assert.deepEqual([...names].sort(), names);
    assert.equal(new Set(names).size, names.length);
    for (const c of COMMAND_TABLE) {
      for (const sub of c.subcommands) assert.ok(names.includes(sub), sub);
    }
  });

  it('is what the generator makes from the installed redis-server', {
    skip: !hasRedis && NO_REDIS,
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'legate-table-'));
    try {
      const out = join(dir, 'table.generated.ts');
      execFileSync(process.execPath, ['scripts/gen-redis-commands.ts', '--out', out], {
        cwd: ROOT,
        stdio: 'pipe',
      });
      const expected = readFileSync(out, 'utf8');
      const actual = readFileSync(TABLE, 'utf8');
      // Compare the versions first: a mismatch there explains the rest of the diff.
      assert.equal(/redis-server (\S+)/.exec(expected)?.[1], REDIS_VERSION);
      assert.ok(actual === expected, 'table.generated.ts is stale: run the generator and commit');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the keys redis-server finds (COMMAND GETKEYS)', {
    skip: !hasRedis && NO_REDIS,
  }, async () => {
    const cases = [
      ['GET', 'k'],
      ['SET', 'k', 'v', 'EX', '10'],
      ['MGET', 'a', 'b', 'c'],
      ['MSET', 'a', '1', 'b', '2', 'c', '3'],
      ['DEL', 'a', 'b'],
      ['EVAL', 'return 1', '2', 'k1', 'k2', 'a1'],
      ['EVAL', 'return 1', '0'],
      ['EVAL', 's', 'x'],
      ['EVAL', 's', '3', 'a'],
      ['EVAL', 's', '-1'],
      ['FCALL_RO', 'f', '1', 'k'],
      ['ZUNIONSTORE', 'd', '2', 'a', 'b', 'WEIGHTS', '1', '2'],
      ['ZINTER', '2', 'a', 'b'],
      ['SINTERCARD', '2', 'a', 'b', 'LIMIT', '1'],
      ['LMPOP', '2', 'a', 'b', 'LEFT'],
      ['BZMPOP', '0', '1', 'z', 'MAX'],
      ['XREAD', 'COUNT', '2', 'STREAMS', 's1', 's2', '0', '0'],
      ['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', 's', '>'],
      ['OBJECT', 'ENCODING', 'k'],
      ['XINFO', 'STREAM', 's', 'FULL'],
      ['MEMORY', 'USAGE', 'k'],
      ['BITOP', 'AND', 'd', 'a', 'b'],
      ['SORT', 'k', 'BY', 'w_*', 'LIMIT', '0', '10', 'GET', 'o_*', 'STORE', 'd'],
      ['SORT', 'k', 'STORE', 'a', 'STORE', 'b'],
      ['SORT', 'k', 'GET', 'store', 'BY', 'store'],
      ['SORT_RO', 'k', 'BY', 'x'],
      ['MIGRATE', 'h', '6379', '', '0', '5000', 'KEYS', 'a', 'b'],
      ['MIGRATE', 'h', '6379', 'k', '0', '5000'],
      ['MIGRATE', 'h', '6379', '', '0', '5000', 'AUTH', 'keys', 'KEYS', 'a'],
      ['GEORADIUS', 'g', '0', '0', '1', 'km', 'STORE', 'd', 'STOREDIST', 'e'],
      ['GEORADIUSBYMEMBER', 'g', 'm', '1', 'km', 'STOREDIST', 'e'],
      ['LCS', 'a', 'b'],
      ['RENAME', 'a', 'b'],
      ['PFCOUNT', 'a', 'b', 'c'],
      ['BLPOP', 'a', 'b', '0'],
      ['MSETNX', 'a', '1', 'b', '2'],
      ['GEOSEARCHSTORE', 'd', 's', 'FROMMEMBER', 'm', 'BYRADIUS', '1', 'km'],
      ['COPY', 'a', 'b', 'DB', '1'],
      ['XGROUP', 'CREATE', 's', 'g', '$'],
    ];
    await withRedisServer('redis-server', async (client) => {
      for (const args of cases) {
        const mine = keyNames(...args);
        let theirs: string[] | undefined;
        try {
          theirs = (await client.call('COMMAND', 'GETKEYS', ...args)) as string[];
        } catch {
          // Redis refuses requests it finds no keys in, or malformed ones.
        }
        const what = args.join(' ');
        // An empty list (EVAL with a bad numkeys) and an error both leave nothing to route by.
        if (theirs === undefined || theirs.length === 0) {
          assert.ok(typeof mine === 'number' || mine.length === 0, `${what}: ${String(mine)}`);
        } else {
          assert.deepEqual(mine, theirs, what);
        }
      }
    });
  });

  it('agrees with COMMAND GETKEYS on a minimal request for every keyed command', {
    skip: !hasRedis && NO_REDIS,
  }, async () => {
    await withRedisServer('redis-server', async (client) => {
      for (const c of COMMANDS) {
        if (c.keyFinder === KeyFinder.NONE || c.hasSubcommands) continue;
        // The fewest arguments the arity allows, each "1": numkeys 1 and the key "1" both fit.
        const names = c.name.split('|');
        const args = [...names];
        while (args.length < Math.abs(c.arity)) args.push('1');
        let theirs: number | undefined;
        try {
          const found = (await client.call('COMMAND', 'GETKEYS', ...args)) as string[];
          theirs = found.length || undefined;
        } catch {
          theirs = undefined;
        }
        const mine = keys(...args);
        const count = typeof mine === 'number' ? undefined : mine.length || undefined;
        // `PFMERGE 1`: GETKEYS rejects the empty source list, but PFMERGE itself accepts it.
        if (c.name === 'pfmerge') assert.equal(count, 1);
        else assert.equal(count, theirs, args.join(' '));
      }
    });
  });
});
