import type { CommandInfo } from './commands/lookup.ts';
import { CommandId } from './commands/policy.ts';
import { REDIS_VERSION } from './commands/table.generated.ts';
import type { RedisPool } from './pool.ts';
import type { RequestSlot } from './request-slot.ts';
import {
  arrayReply,
  bulkReply,
  EMPTY_ARRAY,
  errorReply,
  integerReply,
  NULL_BULK,
  OK,
  PONG,
  simpleReply,
} from './resp/encode.ts';
import { parseIntBytes } from './resp/integer.ts';

/** What answering a local command needs of the client session. */
export interface LocalSession {
  readonly id: number;
  readonly pool: RedisPool;
  readonly remoteAddress: string;
  name: Buffer | null;
  authenticated: boolean;
  closeAfter(slot: RequestSlot, reply: Buffer): void;
}

/** Send the request as it is to any live shard (COMMAND …, CONFIG GET: every shard would answer alike). */
export const FORWARD_ANY = 1;
/** Ask every shard and sum (DBSIZE, INFO's keyspace). */
export const BROADCAST = 2;

const RESET = simpleReply('RESET');
// Redis 7.0.15's words (the version legate's HELLO and INFO report).
const NOPROTO = errorReply('NOPROTO unsupported protocol version');
const NOT_AN_INTEGER = errorReply('ERR value is not an integer or out of range');
const SYNTAX_ERROR = errorReply('ERR syntax error');
const BAD_CLIENT_NAME = errorReply(
  'ERR Client names cannot contain spaces, newlines or special characters.',
);
const WRONGPASS = errorReply('WRONGPASS invalid username-password pair or user is disabled.');
const NO_PASSWORD = errorReply(
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
);

/** Redis 7's wording; a subcommand is named `config|get`, as Redis's `fullname` is. */
export function arityErrorReply(cmd: CommandInfo): Buffer {
  return errorReply(`ERR wrong number of arguments for '${cmd.name}' command`);
}

function arg(buf: Buffer, argStart: Int32Array, argEnd: Int32Array, i: number): Buffer {
  return buf.subarray(argStart[i], argEnd[i]);
}

/**
 * AUTH [user] password against the pool's `redis_auth`, as Redis checks its `default` user: with
 * no password set, that user takes any password given with its name, and plain AUTH is an error.
 */
function checkPassword(session: LocalSession, user: Buffer | null, password: Buffer): Buffer {
  const expected = session.pool.config.redisAuth;
  const isDefault = user === null || user.toString() === 'default';
  if (expected === null) {
    if (user === null) return NO_PASSWORD;
    if (!isDefault) return WRONGPASS;
    session.authenticated = true;
    return OK;
  }
  if (isDefault && password.toString() === expected) {
    session.authenticated = true;
    return OK;
  }
  return WRONGPASS;
}

/** Redis allows client names of printable ASCII without spaces only. */
function validClientName(name: Buffer): boolean {
  for (let i = 0; i < name.length; i++) if (name[i] < 0x21 || name[i] > 0x7e) return false;
  return true;
}

/**
 * Answers a command legate handles itself. Returns the reply, FORWARD_ANY or BROADCAST for the
 * session to carry out, or null when the slot was answered already (QUIT).
 */
export function answerLocally(
  session: LocalSession,
  cmd: CommandInfo,
  slot: RequestSlot,
  buf: Buffer,
  argc: number,
  argStart: Int32Array,
  argEnd: Int32Array,
): Buffer | typeof FORWARD_ANY | typeof BROADCAST | null {
  const pool = session.pool;
  switch (cmd.id) {
    case CommandId.PING:
      if (argc > 2) return arityErrorReply(cmd);
      return argc > 1 ? bulkReply(arg(buf, argStart, argEnd, 1)) : PONG;
    case CommandId.ECHO:
      return bulkReply(arg(buf, argStart, argEnd, 1));
    case CommandId.QUIT:
      session.closeAfter(slot, OK);
      return null;
    case CommandId.SELECT: {
      const db = parseIntBytes(buf, argStart[1], argEnd[1]);
      if (Number.isNaN(db)) return NOT_AN_INTEGER;
      if (db === pool.config.redisDb) return OK;
      return errorReply(
        `ERR SELECT is not allowed: pool '${pool.config.name}' serves database ${pool.config.redisDb} only`,
      );
    }
    case CommandId.AUTH:
      if (argc > 3) return SYNTAX_ERROR;
      return argc === 2
        ? checkPassword(session, null, arg(buf, argStart, argEnd, 1))
        : checkPassword(session, arg(buf, argStart, argEnd, 1), arg(buf, argStart, argEnd, 2));
    case CommandId.HELLO:
      return hello(session, buf, argc, argStart, argEnd);
    case CommandId.RESET:
      session.name = null;
      session.authenticated = pool.config.redisAuth === null;
      return RESET;
    case CommandId.DBSIZE:
    case CommandId.INFO:
      return BROADCAST;
    case CommandId.CLIENT_SETNAME: {
      const name = arg(buf, argStart, argEnd, 2);
      if (!validClientName(name)) return BAD_CLIENT_NAME;
      session.name = name.length === 0 ? null : Buffer.from(name);
      return OK;
    }
    case CommandId.CLIENT_GETNAME:
      return session.name === null ? NULL_BULK : bulkReply(session.name);
    case CommandId.CLIENT_ID:
      return integerReply(session.id);
    case CommandId.CLIENT_INFO:
      return bulkReply(
        `id=${session.id} addr=${session.remoteAddress} name=${session.name ?? ''} db=${pool.config.redisDb} resp=2\n`,
      );
    case CommandId.CLIENT_SETINFO:
      return OK;
    case CommandId.COMMAND:
    case CommandId.COMMAND_COUNT:
    case CommandId.COMMAND_INFO:
    case CommandId.COMMAND_DOCS:
    case CommandId.COMMAND_LIST:
    case CommandId.COMMAND_GETKEYS:
    case CommandId.COMMAND_GETKEYSANDFLAGS:
    case CommandId.COMMAND_HELP:
    case CommandId.CONFIG_GET:
      return FORWARD_ANY;
    default:
      return errorReply(`ERR '${cmd.name}' is not answered by legate`);
  }
}

/** HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 only. */
function hello(
  session: LocalSession,
  buf: Buffer,
  argc: number,
  argStart: Int32Array,
  argEnd: Int32Array,
): Buffer {
  if (argc > 1) {
    const version = parseIntBytes(buf, argStart[1], argEnd[1]);
    if (Number.isNaN(version))
      return errorReply('ERR Protocol version is not an integer or out of range');
    if (version !== 2) return NOPROTO;
  }
  // Redis checks every option before acting on any: AUTH first, then SETNAME.
  let user: Buffer | null = null;
  let password: Buffer | null = null;
  let name: Buffer | null = null;
  for (let i = 2; i < argc; i++) {
    const option = arg(buf, argStart, argEnd, i).toString();
    const lower = option.toLowerCase();
    if (lower === 'auth' && i + 2 < argc) {
      user = arg(buf, argStart, argEnd, i + 1);
      password = arg(buf, argStart, argEnd, i + 2);
      i += 2;
    } else if (lower === 'setname' && i + 1 < argc) {
      name = arg(buf, argStart, argEnd, ++i);
    } else {
      return errorReply(`ERR Syntax error in HELLO option '${option}'`);
    }
  }
  if (user !== null && password !== null) {
    const result = checkPassword(session, user, password);
    if (result !== OK) return result;
  }
  if (!session.authenticated)
    return errorReply(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  if (name !== null) {
    if (!validClientName(name)) return BAD_CLIENT_NAME;
    session.name = name.length === 0 ? null : Buffer.from(name);
  }
  const b = bulkReply;
  return arrayReply([
    b('server'),
    b('redis'),
    b('version'),
    b(REDIS_VERSION),
    b('proto'),
    integerReply(2),
    b('id'),
    integerReply(session.id),
    b('mode'),
    b('standalone'),
    b('role'),
    b('master'),
    b('modules'),
    EMPTY_ARRAY,
  ]);
}
