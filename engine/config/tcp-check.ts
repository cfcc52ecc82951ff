import { isSeq } from 'yaml';
import { duration } from './duration.ts';
import {
  boolean,
  describe,
  type Entry,
  integer,
  isNull,
  oneOf,
  readMap,
  rejectUnknown,
  slotOf,
  text,
} from './read.ts';
import type { ConfigSource } from './source.ts';
import type { CheckStep, CheckTiming, HealthCheckKind } from './tcp-types.ts';

export const CHECK_TYPES = ['tcp', 'postgres', 'redis', 'mysql', 'send-expect'] as const;
const TIMING_KEYS = ['interval', 'fall', 'rise', 'timeout'] as const;
const KEYS_BY_TYPE: Readonly<Record<(typeof CHECK_TYPES)[number], readonly string[]>> = {
  tcp: [],
  postgres: ['user', 'database', 'password', 'ssl', 'require_primary'],
  redis: [],
  mysql: ['user'],
  'send-expect': ['steps'],
};
const STEP_KEYS = [
  'connect',
  'send',
  'send_binary',
  'expect',
  'expect_regex',
  'expect_binary',
  'not',
];

/** HAProxy's defaults: `inter 2000 fall 3 rise 2`, no `timeout check`. */
export const DEFAULT_TIMING: CheckTiming = { intervalMs: 2000, fall: 3, rise: 2, timeoutMs: null };

export interface ReadCheck {
  readonly kind: HealthCheckKind;
  readonly timing: CheckTiming;
}

function hexBytes(value: string): Uint8Array | string {
  const clean = value.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean))
    return `expected hex bytes (pairs of 0-9a-f), got '${value}'`;
  return Buffer.from(clean, 'hex');
}

/** One `steps:` item: `{send: …}`, `{expect: …, not: true}`, `{connect: port}`… */
function readStep(entry: Entry, src: ConfigSource): CheckStep | undefined {
  const entries = readMap(
    entry.value,
    entry.place,
    entry.path,
    src,
    'a step such as {send: "PING\\r\\n"} or {expect: "+PONG"}',
  );
  if (entries === undefined) return undefined;
  const given = rejectUnknown(entries, STEP_KEYS, src, 'a check step');
  const ops = given.filter((e) => e.key !== 'not');
  const negate = given.find((e) => e.key === 'not');
  if (ops.length !== 1) {
    src.report(
      entry.place,
      entry.path,
      `a step has exactly one of connect, send, send_binary, expect, expect_regex, expect_binary; got ${ops.length}`,
    );
    return undefined;
  }
  const op = ops[0];
  if (negate !== undefined && !op.key.startsWith('expect')) {
    src.report(negate.keyNode, negate.path, "'not' goes with an expect step only");
    return undefined;
  }
  const not = negate === undefined ? false : boolean(slotOf(negate), src);
  if (not === undefined) return undefined;
  switch (op.key) {
    case 'connect': {
      const port = integer({ min: 1, max: 65535 })(slotOf(op), src);
      return port === undefined ? undefined : { op: 'connect', port };
    }
    case 'send': {
      const data = text(slotOf(op), src);
      return data === undefined ? undefined : { op: 'send', data: Buffer.from(data, 'utf8') };
    }
    case 'send_binary': {
      const data = text(slotOf(op), src);
      if (data === undefined) return undefined;
      const bytes = hexBytes(data);
      if (typeof bytes === 'string') {
        src.report(op.place, op.path, bytes);
        return undefined;
      }
      return { op: 'send', data: bytes };
    }
    default: {
      const pattern = text(slotOf(op), src);
      if (pattern === undefined) return undefined;
      const match =
        op.key === 'expect' ? 'string' : op.key === 'expect_regex' ? 'rstring' : 'binary';
      if (match === 'rstring') {
        try {
          new RegExp(pattern);
        } catch (err) {
          src.report(
            op.place,
            op.path,
            `not a valid regular expression: ${(err as Error).message}`,
          );
          return undefined;
        }
      }
      if (match === 'binary' && typeof hexBytes(pattern) === 'string') {
        src.report(op.place, op.path, hexBytes(pattern) as string);
        return undefined;
      }
      return { op: 'expect', negate: not, match, pattern };
    }
  }
}

function readSteps(entry: Entry, src: ConfigSource): CheckStep[] | undefined {
  if (!isSeq(entry.value) || entry.value.items.length === 0) {
    src.report(
      entry.place,
      entry.path,
      `expected a list of steps like [{send: "PING\\r\\n"}, {expect: "+PONG"}], got ${describe(entry.value)}`,
    );
    return undefined;
  }
  const steps: CheckStep[] = [];
  let ok = true;
  entry.value.items.forEach((item, i) => {
    const node = src.deref(item as never);
    const step = readStep(
      {
        key: String(i),
        keyNode: entry.keyNode,
        value: node,
        place: node ?? entry.place,
        path: `${entry.path}[${i}]`,
      },
      src,
    );
    if (step === undefined) ok = false;
    else steps.push(step);
  });
  return ok ? steps : undefined;
}

/** A service's `check:` mapping: what to send, and how often, before a server counts as down or up. */
export function readCheck(entry: Entry, src: ConfigSource): ReadCheck | undefined {
  const entries = readMap(
    entry.value,
    entry.place,
    entry.path,
    src,
    "a mapping with 'type' (tcp, postgres, redis, mysql, send-expect) and its timing",
  );
  if (entries === undefined) return undefined;
  const typeEntry = entries.find((e) => e.key === 'type');
  const type = typeEntry === undefined ? 'tcp' : oneOf(CHECK_TYPES)(slotOf(typeEntry), src);
  if (type === undefined) return undefined;
  const known = ['type', ...TIMING_KEYS, ...KEYS_BY_TYPE[type]];
  const given = new Map(
    rejectUnknown(entries, known, src, `a ${type} check`).map((e) => [e.key, e]),
  );
  let ok = given.size === entries.length;
  const read = <T>(
    key: string,
    reader: (s: ReturnType<typeof slotOf>, c: ConfigSource) => T | undefined,
    fallback: T,
  ): T => {
    const e = given.get(key);
    if (e === undefined || isNull(e.value)) return fallback;
    const v = reader(slotOf(e), src);
    if (v === undefined) ok = false;
    return v ?? fallback;
  };
  const timing: CheckTiming = {
    intervalMs: read('interval', duration({ min: 10 }), DEFAULT_TIMING.intervalMs),
    fall: read('fall', integer({ min: 1 }), DEFAULT_TIMING.fall),
    rise: read('rise', integer({ min: 1 }), DEFAULT_TIMING.rise),
    timeoutMs: read<number | null>('timeout', duration({ min: 1 }), null),
  };
  let kind: HealthCheckKind;
  switch (type) {
    case 'postgres': {
      const user = read<string | null>('user', text, null);
      if (user === null) {
        ok = false;
        src.report(
          entry.keyNode,
          entry.path,
          "a postgres check needs 'user' (the role it names in its StartupMessage)",
        );
      }
      const requirePrimary = read('require_primary', boolean, false);
      const password = read<string | null>('password', text, null);
      kind = {
        kind: 'postgres',
        user: user ?? '',
        database: read<string | null>('database', text, null),
        password,
        ssl: read('ssl', oneOf(['prefer', 'require', 'disable'] as const), 'disable'),
        requirePrimary,
      };
      break;
    }
    case 'mysql':
      kind = { kind: 'mysql', user: read<string | null>('user', text, null) };
      break;
    case 'send-expect': {
      const stepsEntry = given.get('steps');
      if (stepsEntry === undefined) {
        ok = false;
        src.report(entry.keyNode, entry.path, "a send-expect check needs 'steps'");
        return undefined;
      }
      const steps = readSteps(stepsEntry, src);
      if (steps === undefined) return undefined;
      kind = { kind: 'send-expect', steps };
      break;
    }
    default:
      kind = { kind: type };
  }
  return ok ? { kind, timing } : undefined;
}
