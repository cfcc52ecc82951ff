/**
 * The shape of `table.generated.ts`: Redis's own `COMMAND INFO` description of each command,
 * kept close to Redis's vocabulary so the generated file can be checked against the server
 * that produced it. legate's decisions about these commands live in `policy.ts`.
 */

/** Where the search for a key spec's first key starts. */
export type BeginSearch =
  /** The first key is at this argument index (0 is the command name). */
  | { readonly type: 'index'; readonly index: number }
  /**
   * The first key follows `keyword` (matched case-insensitively), searched from `startFrom`:
   * forward when positive, backward from `argc + startFrom` when negative.
   */
  | { readonly type: 'keyword'; readonly keyword: string; readonly startFrom: number }
  /** Redis cannot describe it: the command parses its own arguments to find these keys. */
  | { readonly type: 'unknown' };

/** How many keys follow the begin-search position, and how far apart. */
export type FindKeys =
  /**
   * `lastKey` >= 0 is relative to the first key; < 0 counts back from the end of the arguments.
   * A non-zero `limit` with `lastKey` -1 means: of the arguments left, the first 1/limit are keys.
   */
  | {
      readonly type: 'range';
      readonly lastKey: number;
      readonly keyStep: number;
      readonly limit: number;
    }
  /**
   * The argument at `keyNumIdx` (relative to the begin-search position) holds the number of keys;
   * they start at `firstKey` (relative to the same position), `keyStep` apart.
   */
  | {
      readonly type: 'keynum';
      readonly keyNumIdx: number;
      readonly firstKey: number;
      readonly keyStep: number;
    }
  | { readonly type: 'unknown' };

export type KeySpec = {
  /** Redis key-spec flags: RO/RW/OW/RM, access/update/insert/delete, not_key, incomplete, variable_flags. */
  readonly flags: readonly string[];
  readonly beginSearch: BeginSearch;
  readonly findKeys: FindKeys;
};

export type CommandSpec = {
  /** Lowercase; a subcommand is `container|sub`, as Redis names it. */
  readonly name: string;
  /** `COMMAND DOCS` group: string, list, server, connection, pubsub, transactions, scripting... */
  readonly group: string;
  /** Counts the command name (and the subcommand name): > 0 exact, < 0 at least -arity. */
  readonly arity: number;
  /** Redis command flags, sorted. */
  readonly flags: readonly string[];
  /** Legacy key positions (pre-7 `COMMAND`): 0 when the command has no fixed first key. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
  readonly keySpecs: readonly KeySpec[];
  /** Redis's hints to cluster clients, e.g. `request_policy:all_shards`, `nondeterministic_output`. */
  readonly tips: readonly string[];
  /** Names of the subcommands of a container command (CONFIG, CLIENT...), sorted; else empty. */
  readonly subcommands: readonly string[];
};
