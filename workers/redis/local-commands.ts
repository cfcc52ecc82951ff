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
const NOPROTO = errorReply('NOPROTO sorry, this protocol version is not supported.');
const WRONGPASS = errorReply('WRONGPASS invalid username-password pair or user is disabled.');
const NO_PASSWORD = errorReply(
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
);

function arg(buf: Buffer, argStart: Int32Array, argEnd: Int32Array, i: number): Buffer {
  return buf.subarray(argStart[i], argEnd[i]);
}

function checkPassword(session: LocalSession, user: Buffer | null, password: Buffer): Buffer {
  const expected = session.pool.config.redisAuth;
  if (expected === null) return NO_PASSWORD;
  if ((user === null || user.toString() === 'default') && password.toString() === expected) {
    session.authenticated = true;
    return OK;
  }
  return WRONGPASS;
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
      return argc > 1 ? bulkReply(arg(buf, argStart, argEnd, 1)) : PONG;
    case CommandId.ECHO:
      return bulkReply(arg(buf, argStart, argEnd, 1));
    case CommandId.QUIT:
      session.closeAfter(slot, OK);
      return null;
    case CommandId.SELECT: {
      const db = arg(buf, argStart, argEnd, 1).toString();
      if (db === String(pool.config.redisDb)) return OK;
      return errorReply(
        `ERR SELECT is not allowed: pool '${pool.config.name}' serves database ${pool.config.redisDb} only`,
      );
    }
    case CommandId.AUTH:
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
      if (name.includes(32) || name.includes(10)) {
        return errorReply(
          'ERR Client names cannot contain spaces, newlines or special characters.',
        );
      }
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
    const version = arg(buf, argStart, argEnd, 1).toString();
    if (!/^\d+$/.test(version))
      return errorReply('ERR Protocol version is not an integer or out of range');
    if (version !== '2') return NOPROTO;
  }
  for (let i = 2; i < argc; i++) {
    const option = arg(buf, argStart, argEnd, i).toString().toLowerCase();
    if (option === 'auth' && i + 2 < argc) {
      const result = checkPassword(
        session,
        arg(buf, argStart, argEnd, i + 1),
        arg(buf, argStart, argEnd, i + 2),
      );
      if (result !== OK) return result;
      i += 2;
    } else if (option === 'setname' && i + 1 < argc) {
      session.name = Buffer.from(arg(buf, argStart, argEnd, ++i));
    } else {
      return errorReply(`ERR Syntax error in HELLO option '${option}'`);
    }
  }
  if (!session.authenticated)
    return errorReply(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
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
