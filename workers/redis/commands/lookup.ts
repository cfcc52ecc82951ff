/**
 * The hot-path view of the command table: find a request's command from its name bytes and the
 * argument indexes of its keys, without allocating. Everything here is built once at import.
 */

import { parseIntBytes } from '../resp/integer.ts';
import {
  type CommandKind,
  classify,
  EXTRA_COMMANDS,
  FIRST_TABLE_ID,
  LOCAL_COMMANDS,
} from './policy.ts';
import { COMMAND_TABLE } from './table.generated.ts';
import type { CommandSpec } from './types.ts';

export type { CommandKind } from './policy.ts';

/** Redis command flags as bits of `CommandInfo.flags`. Flags not listed here are dropped. */
export const CommandFlag = {
  WRITE: 1 << 0,
  READONLY: 1 << 1,
  DENYOOM: 1 << 2,
  MODULE: 1 << 3,
  ADMIN: 1 << 4,
  PUBSUB: 1 << 5,
  NOSCRIPT: 1 << 6,
  BLOCKING: 1 << 7,
  LOADING: 1 << 8,
  STALE: 1 << 9,
  SKIP_MONITOR: 1 << 10,
  SKIP_SLOWLOG: 1 << 11,
  ASKING: 1 << 12,
  FAST: 1 << 13,
  NO_AUTH: 1 << 14,
  MAY_REPLICATE: 1 << 15,
  NO_MANDATORY_KEYS: 1 << 16,
  NO_MULTI: 1 << 17,
  MOVABLEKEYS: 1 << 18,
  ALLOW_BUSY: 1 << 19,
  NO_ASYNC_LOADING: 1 << 20,
} as const;

const FLAG_BITS: ReadonlyMap<string, number> = new Map(
  Object.entries(CommandFlag).map(([k, bit]) => [k.toLowerCase(), bit]),
);

export const BEGIN_INDEX = 0;
export const BEGIN_KEYWORD = 1;
export const BEGIN_UNKNOWN = 2;
export const FIND_RANGE = 0;
export const FIND_KEYNUM = 1;
export const FIND_UNKNOWN = 2;

/** A key spec flattened to numbers, so the hot path reads fields of one monomorphic shape. */
export type KeySpecInfo = {
  readonly beginType: number;
  /** BEGIN_INDEX: the argument index; BEGIN_KEYWORD: `startFrom`. */
  readonly begin: number;
  /** Lowercase keyword bytes for BEGIN_KEYWORD, else empty. */
  readonly keyword: Uint8Array;
  readonly findType: number;
  /** FIND_RANGE fields. */
  readonly lastKey: number;
  readonly limit: number;
  /** FIND_KEYNUM fields. */
  readonly keyNumIdx: number;
  readonly firstKey: number;
  /** Both find types. */
  readonly keyStep: number;
  /** Not a key (a shard channel): skipped by extractKeys. */
  readonly notKey: boolean;
};

/** How extractKeys finds a command's keys. */
export const KeyFinder = {
  /** No keys. */
  NONE: 0,
  /** One key at a fixed index (`keyIndex`): most commands. */
  FIXED: 1,
  /** Follow the key specs. */
  SPECS: 2,
  /** SORT / SORT_RO: the key, plus the STORE destination the specs cannot describe. */
  SORT: 3,
  /** MIGRATE: either the key at 3 or, when it is empty, the keys after KEYS. */
  MIGRATE: 4,
} as const;

export type CommandInfo = {
  /** CommandId for local commands, else a unique id >= FIRST_TABLE_ID (fit for an array index). */
  readonly id: number;
  /** Lowercase; a subcommand is `container|sub`. */
  readonly name: string;
  readonly kind: CommandKind;
  /** Why an unsupported command is refused; undefined otherwise. */
  readonly reason: string | undefined;
  /** Counts the command (and subcommand) name: > 0 exact argc, < 0 at least -arity. */
  readonly arity: number;
  /** CommandFlag bits. */
  readonly flags: number;
  readonly group: string;
  /** Legacy first/last/step key positions, as `COMMAND` reports them. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
  readonly keySpecs: readonly KeySpecInfo[];
  readonly keyFinder: number;
  /** For KeyFinder.FIXED. */
  readonly keyIndex: number;
  /** The container of a subcommand. */
  readonly parent: CommandInfo | undefined;
  /** A container (CONFIG, CLIENT...): resolve argument 1 with lookupSubcommand. */
  readonly hasSubcommands: boolean;
  /** The generated (or extra) table entry, for COMMAND INFO replies and the like. */
  readonly spec: CommandSpec;
};

/** A numkeys argument is not an integer. */
export const KEYS_ERR_NOT_INTEGER = -1;
/** A numkeys argument is negative. */
export const KEYS_ERR_NEGATIVE = -2;
/** A numkeys argument names more keys than there are arguments. */
export const KEYS_ERR_NUMKEYS_TOO_LARGE = -3;
/** The arguments are too few for the key positions, or do not come in whole groups (MSET). */
export const KEYS_ERR_ARITY = -4;
/** The key arguments are malformed otherwise (XREAD's unbalanced streams and ids, MIGRATE). */
export const KEYS_ERR_SYNTAX = -5;
/** The key spec cannot be followed: Redis describes it as unknown and legate has no parser. */
export const KEYS_ERR_UNKNOWN_SPEC = -6;
/** `out` is shorter than the number of keys: size it to the request's argc to rule this out. */
export const KEYS_ERR_OUT_TOO_SMALL = -7;

/** The text of a Redis-style error reply (without "-ERR ") for an extractKeys error code. */
export function keysErrorMessage(code: number, info: CommandInfo): string {
  // Redis 7 names a subcommand `object|encoding` in these messages too.
  const name = info.name;
  switch (code) {
    case KEYS_ERR_NOT_INTEGER:
      return 'value is not an integer or out of range';
    case KEYS_ERR_NEGATIVE:
      return "Number of keys can't be negative";
    case KEYS_ERR_NUMKEYS_TOO_LARGE:
      return "Number of keys can't be greater than number of args";
    case KEYS_ERR_ARITY:
      return `wrong number of arguments for '${name}' command`;
    case KEYS_ERR_SYNTAX:
      return 'syntax error';
    case KEYS_ERR_UNKNOWN_SPEC:
      return `cannot find the keys of '${name}'`;
    case KEYS_ERR_OUT_TOO_SMALL:
      return `too many keys for '${name}'`;
    default:
      return `cannot find the keys of '${name}' (code ${code})`;
  }
}

// --- building the index ---------------------------------------------------------------------

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const NO_PARENT = 0;

type Entry = {
  readonly info: CommandInfo;
  /** The lowercase name's last segment (`get` of `config|get`). */
  readonly bytes: Uint8Array;
  readonly parentId: number;
  readonly hash: number;
};

const encoder = new TextEncoder();

function hashBytes(seed: number, bytes: Uint8Array): number {
  let h = seed;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h >>> 0;
}

/** Subcommands hash from a per-container seed, so one table holds every level. */
function seedFor(parentId: number): number {
  return parentId === NO_PARENT ? FNV_OFFSET : Math.imul(FNV_OFFSET ^ parentId, FNV_PRIME) >>> 0;
}

function compileKeySpec(k: CommandSpec['keySpecs'][number]): KeySpecInfo {
  const bs = k.beginSearch;
  const fk = k.findKeys;
  return {
    beginType:
      bs.type === 'index' ? BEGIN_INDEX : bs.type === 'keyword' ? BEGIN_KEYWORD : BEGIN_UNKNOWN,
    begin: bs.type === 'index' ? bs.index : bs.type === 'keyword' ? bs.startFrom : 0,
    keyword: bs.type === 'keyword' ? encoder.encode(bs.keyword.toLowerCase()) : new Uint8Array(0),
    findType: fk.type === 'range' ? FIND_RANGE : fk.type === 'keynum' ? FIND_KEYNUM : FIND_UNKNOWN,
    lastKey: fk.type === 'range' ? fk.lastKey : 0,
    limit: fk.type === 'range' ? fk.limit : 0,
    keyNumIdx: fk.type === 'keynum' ? fk.keyNumIdx : 0,
    firstKey: fk.type === 'keynum' ? fk.firstKey : 0,
    keyStep: fk.type === 'unknown' ? 0 : fk.keyStep,
    notKey: k.flags.includes('not_key'),
  };
}

function keyFinderFor(name: string, specs: readonly KeySpecInfo[]): number {
  if (name === 'sort' || name === 'sort_ro') return KeyFinder.SORT;
  if (name === 'migrate') return KeyFinder.MIGRATE;
  const keys = specs.filter((k) => !k.notKey);
  if (keys.length === 0) return KeyFinder.NONE;
  const only = keys[0];
  if (
    keys.length === 1 &&
    only.beginType === BEGIN_INDEX &&
    only.findType === FIND_RANGE &&
    only.lastKey === 0
  ) {
    return KeyFinder.FIXED;
  }
  return KeyFinder.SPECS;
}

function buildIndex() {
  const specs = [...COMMAND_TABLE];
  const known = new Set(specs.map((s) => s.name));
  for (const extra of EXTRA_COMMANDS) if (!known.has(extra.name)) specs.push(extra);
  // Containers before their subcommands, so a subcommand can point at its parent.
  specs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // EXTRA_COMMANDS may add a subcommand that its container's table entry does not list.
  const containers = new Set(
    specs.filter((s) => s.name.includes('|')).map((s) => s.name.split('|')[0]),
  );
  const byName = new Map<string, CommandInfo>();
  const entries: Entry[] = [];
  let nextId = FIRST_TABLE_ID;
  for (const spec of specs) {
    const bar = spec.name.indexOf('|');
    const parent = bar < 0 ? undefined : byName.get(spec.name.slice(0, bar));
    if (bar >= 0 && parent === undefined) throw new Error(`${spec.name} has no container`);
    const keySpecs = spec.keySpecs.map(compileKeySpec);
    const keyFinder = keyFinderFor(spec.name, keySpecs);
    const { kind, reason } = classify(spec);
    let flags = 0;
    for (const f of spec.flags) flags |= FLAG_BITS.get(f) ?? 0;
    const info: CommandInfo = {
      id: LOCAL_COMMANDS.get(spec.name) ?? nextId++,
      name: spec.name,
      kind,
      reason,
      arity: spec.arity,
      flags,
      group: spec.group,
      firstKey: spec.firstKey,
      lastKey: spec.lastKey,
      keyStep: spec.keyStep,
      keySpecs,
      keyFinder,
      keyIndex: keyFinder === KeyFinder.FIXED ? keySpecs.find((k) => !k.notKey)!.begin : 0,
      parent,
      hasSubcommands: containers.has(spec.name),
      spec,
    };
    byName.set(spec.name, info);
    const parentId = parent === undefined ? NO_PARENT : parent.id;
    const bytes = encoder.encode(bar < 0 ? spec.name : spec.name.slice(bar + 1));
    entries.push({ info, bytes, parentId, hash: hashBytes(seedFor(parentId), bytes) });
  }

  let size = 16;
  while (size < entries.length * 4) size *= 2;
  const slots = new Int32Array(size);
  let maxLen = 0;
  for (let i = 0; i < entries.length; i++) {
    let slot = entries[i].hash & (size - 1);
    while (slots[slot] !== 0) slot = (slot + 1) & (size - 1);
    slots[slot] = i + 1;
    if (entries[i].bytes.length > maxLen) maxLen = entries[i].bytes.length;
  }
  return { byName, entries, slots, mask: size - 1, maxLen };
}

const INDEX = buildIndex();
const ENTRIES = INDEX.entries;
const SLOTS = INDEX.slots;
const MASK = INDEX.mask;
const MAX_NAME_LEN = INDEX.maxLen;

/** Every command and subcommand, sorted by name. */
export const COMMANDS: readonly CommandInfo[] = ENTRIES.map((e) => e.info);

/** By exact lowercase name (`get`, `config|get`): for tests and local replies, not the hot path. */
export function commandByName(name: string): CommandInfo | undefined {
  return INDEX.byName.get(name);
}

// --- hot path --------------------------------------------------------------------------------

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

function find(
  parentId: number,
  buf: Uint8Array,
  start: number,
  end: number,
): CommandInfo | undefined {
  const len = end - start;
  if (len <= 0 || len > MAX_NAME_LEN) return undefined;
  let h = seedFor(parentId);
  for (let i = start; i < end; i++) h = Math.imul(h ^ lower(buf[i]), FNV_PRIME);
  h >>>= 0;
  let slot = h & MASK;
  for (;;) {
    const at = SLOTS[slot];
    if (at === 0) return undefined;
    const e = ENTRIES[at - 1];
    if (e.hash === h && e.parentId === parentId && e.bytes.length === len) {
      const bytes = e.bytes;
      let i = 0;
      while (i < len && bytes[i] === lower(buf[start + i])) i++;
      if (i === len) return e.info;
    }
    slot = (slot + 1) & MASK;
  }
}

/** The command named by `buf[start, end)`, case-insensitively; undefined if Redis has none. */
export function lookupCommand(
  buf: Uint8Array,
  start: number,
  end: number,
): CommandInfo | undefined {
  return find(NO_PARENT, buf, start, end);
}

/** The subcommand of `container` named by `buf[start, end)` (argument 1), case-insensitively. */
export function lookupSubcommand(
  container: CommandInfo,
  buf: Uint8Array,
  start: number,
  end: number,
): CommandInfo | undefined {
  if (!container.hasSubcommands) return undefined;
  return find(container.id, buf, start, end);
}

/** Redis's arity rule: positive means exactly that argc, negative at least its absolute value. */
export function arityOk(info: CommandInfo, argc: number): boolean {
  const arity = info.arity;
  return arity >= 0 ? argc === arity : argc >= -arity;
}

function argEquals(
  buf: Uint8Array,
  argStart: Int32Array,
  argEnd: Int32Array,
  arg: number,
  word: Uint8Array,
): boolean {
  const s = argStart[arg];
  if (argEnd[arg] - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (lower(buf[s + i]) !== word[i]) return false;
  return true;
}

/**
 * Writes the argument indexes of the request's keys to `out`, in key-spec order, and returns
 * how many; negative KEYS_ERR_* when the arguments do not fit the key specs. Follows Redis's
 * getKeysUsingKeySpecs (plus its SORT and MIGRATE parsers), except that a numkeys of 0 yields
 * no keys rather than an error: EVAL and FCALL allow it, and the others are refused by the
 * router anyway for having no key. Expects the arity checked already (see arityOk).
 */
export function extractKeys(
  info: CommandInfo,
  buf: Uint8Array,
  argc: number,
  argStart: Int32Array,
  argEnd: Int32Array,
  out: Int32Array,
): number {
  switch (info.keyFinder) {
    case KeyFinder.FIXED:
      if (info.keyIndex >= argc) return KEYS_ERR_ARITY;
      if (out.length < 1) return KEYS_ERR_OUT_TOO_SMALL;
      out[0] = info.keyIndex;
      return 1;
    case KeyFinder.NONE:
      return 0;
    case KeyFinder.SORT:
      return sortKeys(info, buf, argc, argStart, argEnd, out);
    case KeyFinder.MIGRATE:
      return migrateKeys(buf, argc, argStart, argEnd, out);
    default:
      return specKeys(info, buf, argc, argStart, argEnd, out);
  }
}

function specKeys(
  info: CommandInfo,
  buf: Uint8Array,
  argc: number,
  argStart: Int32Array,
  argEnd: Int32Array,
  out: Int32Array,
): number {
  let n = 0;
  const specs = info.keySpecs;
  for (let s = 0; s < specs.length; s++) {
    const spec = specs[s];
    if (spec.notKey) continue;

    let first = 0;
    if (spec.beginType === BEGIN_INDEX) {
      first = spec.begin;
    } else if (spec.beginType === BEGIN_KEYWORD) {
      // As Redis: forward from startFrom, not looking at the last argument (a keyword there has
      // no key after it), or backward from argc + startFrom; never at the command name.
      const forward = spec.begin > 0;
      const stop = forward ? argc - 1 : argc;
      for (
        let i = forward ? spec.begin : argc + spec.begin;
        i >= 1 && i < stop;
        i += forward ? 1 : -1
      ) {
        if (argEquals(buf, argStart, argEnd, i, spec.keyword)) {
          first = i + 1;
          break;
        }
      }
      // An optional keyword (GEORADIUS ... STORE key) that is absent: no keys from this spec.
      if (first === 0) continue;
    } else {
      return KEYS_ERR_UNKNOWN_SPEC;
    }
    if (first >= argc) {
      // A trailing key list the arity lets be empty: `PFMERGE dest` runs (merging nothing),
      // though COMMAND GETKEYS calls it invalid. Route it by the keys before the list.
      if (spec.findType === FIND_RANGE && spec.lastKey < 0 && first === argc) continue;
      return KEYS_ERR_ARITY;
    }

    let last: number;
    let step: number;
    if (spec.findType === FIND_RANGE) {
      step = spec.keyStep;
      if (spec.lastKey >= 0) {
        last = first + spec.lastKey;
      } else if (spec.limit === 0) {
        last = argc + spec.lastKey;
        // MSET k v k v: the keys' trailing arguments must come in whole groups.
        if (step > 1 && (last - first + 1) % step !== 0) return KEYS_ERR_ARITY;
      } else {
        // XREAD STREAMS k1 k2 id1 id2: the first 1/limit of the remaining arguments are keys.
        if ((argc - first) % spec.limit !== 0) return KEYS_ERR_SYNTAX;
        last = first + (argc - first) / spec.limit + spec.lastKey;
      }
      if (last < first || last >= argc) return KEYS_ERR_ARITY;
    } else if (spec.findType === FIND_KEYNUM) {
      step = spec.keyStep;
      const at = first + spec.keyNumIdx;
      if (at >= argc) return KEYS_ERR_ARITY;
      const numkeys = parseIntBytes(buf, argStart[at], argEnd[at]);
      if (Number.isNaN(numkeys)) return KEYS_ERR_NOT_INTEGER;
      if (numkeys < 0) return KEYS_ERR_NEGATIVE;
      first += spec.firstKey;
      if (numkeys === 0) continue;
      last = first + (numkeys - 1) * step;
      if (last >= argc) return KEYS_ERR_NUMKEYS_TOO_LARGE;
    } else {
      return KEYS_ERR_UNKNOWN_SPEC;
    }

    for (let i = first; i <= last; i += step) {
      if (n >= out.length) return KEYS_ERR_OUT_TOO_SMALL;
      out[n++] = i;
    }
  }
  return n;
}

const LIMIT = encoder.encode('limit');
const GET = encoder.encode('get');
const BY = encoder.encode('by');
const STORE = encoder.encode('store');

/**
 * SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dest]:
 * the BY/GET patterns name keys only through the sorted values, so, like twemproxy, legate
 * leaves them to hash tags. The last STORE wins, as in Redis's sortGetKeys.
 */
function sortKeys(
  info: CommandInfo,
  buf: Uint8Array,
  argc: number,
  argStart: Int32Array,
  argEnd: Int32Array,
  out: Int32Array,
): number {
  if (argc < 2) return KEYS_ERR_ARITY;
  if (out.length < 1) return KEYS_ERR_OUT_TOO_SMALL;
  out[0] = 1;
  if (info.name !== 'sort') return 1;
  let store = 0;
  for (let i = 2; i < argc; i++) {
    if (argEquals(buf, argStart, argEnd, i, LIMIT)) i += 2;
    else if (argEquals(buf, argStart, argEnd, i, GET) || argEquals(buf, argStart, argEnd, i, BY))
      i++;
    else if (argEquals(buf, argStart, argEnd, i, STORE) && i + 1 < argc) store = ++i;
  }
  if (store === 0) return 1;
  if (out.length < 2) return KEYS_ERR_OUT_TOO_SMALL;
  out[1] = store;
  return 2;
}

const KEYS = encoder.encode('keys');
const AUTH = encoder.encode('auth');
const AUTH2 = encoder.encode('auth2');

/**
 * MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS k...]:
 * the key specs cannot skip a password that reads "KEYS", so this is Redis's migrateGetKeys.
 */
function migrateKeys(
  buf: Uint8Array,
  argc: number,
  argStart: Int32Array,
  argEnd: Int32Array,
  out: Int32Array,
): number {
  if (argc < 6) return KEYS_ERR_ARITY;
  let first = 3;
  let count = 1;
  for (let i = 6; i < argc; i++) {
    if (argEquals(buf, argStart, argEnd, i, KEYS)) {
      if (argEnd[3] > argStart[3]) return KEYS_ERR_SYNTAX;
      first = i + 1;
      count = argc - first;
      break;
    }
    if (argEquals(buf, argStart, argEnd, i, AUTH)) i += 1;
    else if (argEquals(buf, argStart, argEnd, i, AUTH2)) i += 2;
  }
  if (count > out.length) return KEYS_ERR_OUT_TOO_SMALL;
  for (let k = 0; k < count; k++) out[k] = first + k;
  return count;
}
