/**
 * legate's decisions about Redis commands, layered on the generated table: which commands a
 * sharding proxy can route, split, answer itself, or must refuse, and why.
 *
 * The explicit lists below are consulted first; the rules after them (flags, groups, key specs)
 * classify everything else, so a command that a newer Redis adds lands somewhere sensible
 * without an edit here: a keyless command is refused, a keyed one is routed by its keys.
 */
import type { CommandSpec } from './types.ts';

export type CommandKind =
  /** Exactly one key: forwarded to the shard that key hashes to. */
  | 'single'
  /** Several independent keys: split per shard, the replies merged (MGET, MSET, DEL...). */
  | 'fanout'
  /** Several (or movable) keys used together: forwarded only if they all hash to one shard. */
  | 'samehash'
  /** Answered by legate itself, never forwarded. */
  | 'local'
  /** Refused with `reason`. */
  | 'unsupported';

export type Classification = {
  readonly kind: CommandKind;
  /** Why an unsupported command is refused; phrased to follow "ERR <command> is not supported: ". */
  readonly reason: string | undefined;
};

/**
 * Ids of the commands legate answers itself, for a `switch` on `CommandInfo.id`. Every other
 * command gets an id >= FIRST_TABLE_ID, unique but not stable across table regenerations.
 */
export const CommandId = {
  PING: 1,
  ECHO: 2,
  QUIT: 3,
  SELECT: 4,
  AUTH: 5,
  HELLO: 6,
  RESET: 7,
  DBSIZE: 8,
  INFO: 9,
  CLIENT_SETNAME: 10,
  CLIENT_GETNAME: 11,
  CLIENT_ID: 12,
  CLIENT_INFO: 13,
  CLIENT_SETINFO: 14,
  COMMAND: 15,
  COMMAND_COUNT: 16,
  COMMAND_INFO: 17,
  COMMAND_DOCS: 18,
  COMMAND_LIST: 19,
  COMMAND_GETKEYS: 20,
  COMMAND_GETKEYSANDFLAGS: 21,
  COMMAND_HELP: 22,
  CONFIG_GET: 23,
} as const;

export const FIRST_TABLE_ID = 64;

/** Command name (as in the table) -> its CommandId. */
export const LOCAL_COMMANDS: ReadonlyMap<string, number> = new Map([
  ['ping', CommandId.PING],
  ['echo', CommandId.ECHO],
  ['quit', CommandId.QUIT],
  // Only database 0 exists behind a proxy (twemproxy too): SELECT 0 succeeds, others fail.
  ['select', CommandId.SELECT],
  // The client authenticates to legate; legate holds its own credentials for the servers.
  ['auth', CommandId.AUTH],
  ['hello', CommandId.HELLO],
  ['reset', CommandId.RESET],
  // Keyspace-wide but harmless and useful to health checks: legate sums the shards or answers.
  ['dbsize', CommandId.DBSIZE],
  ['info', CommandId.INFO],
  // Connection-scoped state: the server connections are shared, so it must live in legate.
  ['client|setname', CommandId.CLIENT_SETNAME],
  ['client|getname', CommandId.CLIENT_GETNAME],
  ['client|id', CommandId.CLIENT_ID],
  ['client|info', CommandId.CLIENT_INFO],
  ['client|setinfo', CommandId.CLIENT_SETINFO],
  // Client libraries ask for the command table at connect; legate has it, for what it routes.
  ['command', CommandId.COMMAND],
  ['command|count', CommandId.COMMAND_COUNT],
  ['command|info', CommandId.COMMAND_INFO],
  ['command|docs', CommandId.COMMAND_DOCS],
  ['command|list', CommandId.COMMAND_LIST],
  ['command|getkeys', CommandId.COMMAND_GETKEYS],
  ['command|getkeysandflags', CommandId.COMMAND_GETKEYSANDFLAGS],
  ['command|help', CommandId.COMMAND_HELP],
  // Read-only, and some clients probe it (e.g. `databases`); legate answers from its config.
  ['config|get', CommandId.CONFIG_GET],
]);

/**
 * Commands newer than the redis-server the table was generated from that clients send on
 * connect regardless of the server's version (redis-py, node-redis and ioredis send
 * CLIENT SETINFO since Redis 7.2). Used only when the generated table lacks the name.
 */
export const EXTRA_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'client|setinfo',
    group: 'connection',
    arity: 4,
    flags: ['loading', 'noscript', 'stale'],
    firstKey: 0,
    lastKey: 0,
    keyStep: 0,
    keySpecs: [],
    tips: ['request_policy:all_nodes', 'response_policy:all_succeeded'],
    subcommands: [],
  },
];

/** Keys split per shard and merged: each key is independent of the others. */
export const FANOUT_COMMANDS: ReadonlySet<string> = new Set([
  'mget',
  'mset',
  'del',
  'unlink',
  'touch',
  'exists',
]);

export const Reason = {
  TRANSACTION: 'transactions span shards and need a dedicated server connection',
  BLOCKING: 'blocking commands would stall a server connection shared by many clients',
  PUBSUB: 'pub/sub needs a dedicated server connection',
  KEYSPACE: 'it acts on the whole keyspace, which is spread over the shards',
  DATABASE: 'only database 0 is served',
  ADMIN: 'administrative commands must be sent to a server directly',
  CLUSTER: 'legate is not a Redis Cluster node',
  SCRIPTING: 'script and function management must reach every shard; EVAL loads scripts itself',
  CONNECTION: 'it changes server connections that are shared by many clients',
  KEYLESS: 'it has no key to route by, so its answer would come from an arbitrary shard',
  SUBCOMMAND: 'it needs a subcommand',
} as const;

/**
 * Refused by name (a container's entry covers all its subcommands). Many are also caught by
 * the rules in `classify` (admin flag, no keys); naming them here keeps the reason precise.
 */
export const UNSUPPORTED_COMMANDS: ReadonlyMap<string, string> = new Map([
  ['multi', Reason.TRANSACTION],
  ['exec', Reason.TRANSACTION],
  ['discard', Reason.TRANSACTION],
  ['watch', Reason.TRANSACTION],
  ['unwatch', Reason.TRANSACTION],

  // Also flagged `blocking` (except WAIT), listed for the record. XREAD and XREADGROUP block
  // only with BLOCK, but telling them apart per request is not worth it.
  ['blpop', Reason.BLOCKING],
  ['brpop', Reason.BLOCKING],
  ['brpoplpush', Reason.BLOCKING],
  ['blmove', Reason.BLOCKING],
  ['blmpop', Reason.BLOCKING],
  ['bzpopmin', Reason.BLOCKING],
  ['bzpopmax', Reason.BLOCKING],
  ['bzmpop', Reason.BLOCKING],
  ['xread', Reason.BLOCKING],
  ['xreadgroup', Reason.BLOCKING],
  ['wait', Reason.BLOCKING],

  ['keys', Reason.KEYSPACE],
  ['scan', Reason.KEYSPACE],
  ['randomkey', Reason.KEYSPACE],
  ['flushall', Reason.KEYSPACE],
  ['flushdb', Reason.KEYSPACE],
  ['move', Reason.DATABASE],
  ['swapdb', Reason.DATABASE],

  ['shutdown', Reason.ADMIN],
  ['debug', Reason.ADMIN],
  ['monitor', Reason.ADMIN],
  ['sync', Reason.ADMIN],
  ['psync', Reason.ADMIN],
  ['replconf', Reason.ADMIN],
  ['replicaof', Reason.ADMIN],
  ['slaveof', Reason.ADMIN],
  ['failover', Reason.ADMIN],
  ['save', Reason.ADMIN],
  ['bgsave', Reason.ADMIN],
  ['bgrewriteaof', Reason.ADMIN],
  ['lastsave', Reason.ADMIN],
  ['role', Reason.ADMIN],
  ['acl', Reason.ADMIN],
  ['config', Reason.ADMIN],
  ['latency', Reason.ADMIN],
  ['slowlog', Reason.ADMIN],
  ['module', Reason.ADMIN],
  ['memory', Reason.ADMIN],
  // Moves keys between servers behind legate's back; its keys are routable but its effect is not.
  ['migrate', Reason.ADMIN],
  ['pfdebug', Reason.ADMIN],
  ['pfselftest', Reason.ADMIN],

  ['cluster', Reason.CLUSTER],
  ['readonly', Reason.CLUSTER],
  ['readwrite', Reason.CLUSTER],
  ['asking', Reason.CLUSTER],
  ['restore-asking', Reason.CLUSTER],

  ['script', Reason.SCRIPTING],
  ['function', Reason.SCRIPTING],

  // Connection-scoped, but not emulated: they reach into the server's client list or change
  // how replies flow (CLIENT REPLY OFF would desynchronise the pipeline).
  ['client', Reason.CONNECTION],
]);

/**
 * Subcommands that escape their container's entry in UNSUPPORTED_COMMANDS: they name a key,
 * so they route like any keyed command.
 */
const KEYED_EXCEPTIONS: ReadonlySet<string> = new Set(['memory|usage']);

function hasKeys(spec: CommandSpec): boolean {
  // `not_key` specs (SPUBLISH's shard channel) hash like keys but are not data.
  return spec.keySpecs.some((k) => !k.flags.includes('not_key'));
}

/** Whether a request can name more than one key (or keys that move with the arguments). */
function mayHaveSeveralKeys(spec: CommandSpec): boolean {
  if (spec.flags.includes('movablekeys')) return true;
  const specs = spec.keySpecs.filter((k) => !k.flags.includes('not_key'));
  if (specs.length > 1) return true;
  const only = specs[0];
  if (only === undefined) return false;
  return (
    only.beginSearch.type !== 'index' ||
    only.findKeys.type !== 'range' ||
    only.findKeys.lastKey !== 0
  );
}

export function classify(spec: CommandSpec): Classification {
  const name = spec.name;
  const bar = name.indexOf('|');
  const container = bar < 0 ? undefined : name.slice(0, bar);

  if (LOCAL_COMMANDS.has(name)) return { kind: 'local', reason: undefined };
  const listed =
    UNSUPPORTED_COMMANDS.get(name) ??
    (container !== undefined && !KEYED_EXCEPTIONS.has(name)
      ? UNSUPPORTED_COMMANDS.get(container)
      : undefined);
  if (listed !== undefined) return { kind: 'unsupported', reason: listed };

  const flags = spec.flags;
  if (flags.includes('blocking')) return { kind: 'unsupported', reason: Reason.BLOCKING };
  if (flags.includes('pubsub') || spec.group === 'pubsub') {
    return { kind: 'unsupported', reason: Reason.PUBSUB };
  }
  if (spec.group === 'transactions') return { kind: 'unsupported', reason: Reason.TRANSACTION };
  if (flags.includes('admin')) return { kind: 'unsupported', reason: Reason.ADMIN };

  if (FANOUT_COMMANDS.has(name)) return { kind: 'fanout', reason: undefined };
  if (spec.subcommands.length > 0) return { kind: 'unsupported', reason: Reason.SUBCOMMAND };
  if (!hasKeys(spec) && !flags.includes('movablekeys')) {
    return { kind: 'unsupported', reason: Reason.KEYLESS };
  }
  return { kind: mayHaveSeveralKeys(spec) ? 'samehash' : 'single', reason: undefined };
}
