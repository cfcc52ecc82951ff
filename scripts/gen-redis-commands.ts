/**
 * Regenerates `workers/redis/commands/table.generated.ts` from a real redis-server:
 *
 *   node_modules/.bin/node scripts/gen-redis-commands.ts [--out <file>] [--redis-server <binary>]
 *
 * Starts a throwaway redis-server on a free 127.0.0.1 port (no persistence, a scratch dir),
 * asks it `COMMAND LIST`, `COMMAND INFO` and `COMMAND DOCS`, writes the table sorted by name and
 * formatted with the project's biome, and stops the server. The output depends only on the
 * server's version, so the unit test can regenerate it and compare with the committed file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  BeginSearch,
  CommandSpec,
  FindKeys,
  KeySpec,
} from '../workers/redis/commands/types.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TABLE_PATH = 'workers/redis/commands/table.generated.ts';
const GENERATE_COMMAND = 'node_modules/.bin/node scripts/gen-redis-commands.ts';

/** A RESP2 reply; error replies reject the call instead. */
export type Reply = string | number | null | Reply[];

/** Just enough of a RESP2 client to ask a server about its commands. */
export class RespClient {
  #socket: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  #closed: Error | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#drain();
    });
    const fail = (err: Error) => {
      this.#closed = err;
      for (const w of this.#waiting.splice(0)) w.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('redis connection closed')));
  }

  call(...args: string[]): Promise<Reply> {
    if (this.#closed) return Promise.reject(this.#closed);
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    this.#socket.write(out);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  close(): void {
    this.#socket.destroy();
  }

  #drain(): void {
    while (this.#waiting.length > 0) {
      const parsed = parseReply(this.#buf, 0);
      if (parsed === undefined) return;
      this.#buf = this.#buf.subarray(parsed.next);
      const w = this.#waiting.shift()!;
      if (parsed.value instanceof Error) w.reject(parsed.value);
      else w.resolve(parsed.value);
    }
  }
}

/** Parses one reply at `pos`; undefined when the buffer does not hold all of it yet. */
function parseReply(buf: Buffer, pos: number): { value: Reply | Error; next: number } | undefined {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (buf[pos]) {
    case 0x2b: // '+'
      return { value: line, next };
    case 0x2d: // '-'
      return { value: new Error(line), next };
    case 0x3a: // ':'
      return { value: Number(line), next };
    case 0x24: {
      // '$'
      const len = Number(line);
      if (len < 0) return { value: null, next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), next: next + len + 2 };
    }
    case 0x2a: {
      // '*'
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (item === undefined) return undefined;
        if (item.value instanceof Error) throw item.value;
        items.push(item.value);
        at = item.next;
      }
      return { value: items, next: at };
    }
    default:
      throw new Error(`unexpected RESP type byte ${buf[pos]}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolvePort(addr.port);
        else reject(new Error('could not find a free port'));
      });
    });
  });
}

async function connect(port: number, deadline: number): Promise<RespClient> {
  for (;;) {
    try {
      const socket = await new Promise<Socket>((ok, fail) => {
        const s = createConnection({ host: '127.0.0.1', port }, () => ok(s));
        s.once('error', fail);
      });
      const client = new RespClient(socket);
      // The port can accept before the server is ready: LOADING replies until then.
      if ((await client.call('PING')) === 'PONG') return client;
      client.close();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// --- RESP2 shapes of COMMAND INFO / DOCS ---------------------------------------------------

function asArray(r: Reply, what: string): Reply[] {
  if (!Array.isArray(r)) throw new Error(`${what}: expected an array, got ${JSON.stringify(r)}`);
  return r;
}

function asString(r: Reply, what: string): string {
  if (typeof r !== 'string')
    throw new Error(`${what}: expected a string, got ${JSON.stringify(r)}`);
  return r;
}

function asNumber(r: Reply, what: string): number {
  if (typeof r !== 'number')
    throw new Error(`${what}: expected an integer, got ${JSON.stringify(r)}`);
  return r;
}

/** RESP2 sends maps as flat [key, value, key, value...] arrays. */
function asMap(r: Reply, what: string): Map<string, Reply> {
  const arr = asArray(r, what);
  const map = new Map<string, Reply>();
  for (let i = 0; i + 1 < arr.length; i += 2) map.set(asString(arr[i], what), arr[i + 1]);
  return map;
}

function need(map: Map<string, Reply>, key: string, what: string): Reply {
  const v = map.get(key);
  if (v === undefined) throw new Error(`${what}: missing ${key}`);
  return v;
}

function parseBeginSearch(r: Reply, what: string): BeginSearch {
  const m = asMap(r, what);
  const type = asString(need(m, 'type', what), what);
  const spec = asMap(need(m, 'spec', what), what);
  if (type === 'index') return { type, index: asNumber(need(spec, 'index', what), what) };
  if (type === 'keyword') {
    return {
      type,
      keyword: asString(need(spec, 'keyword', what), what),
      startFrom: asNumber(need(spec, 'startfrom', what), what),
    };
  }
  if (type === 'unknown') return { type };
  throw new Error(`${what}: unknown begin_search type ${type}`);
}

function parseFindKeys(r: Reply, what: string): FindKeys {
  const m = asMap(r, what);
  const type = asString(need(m, 'type', what), what);
  const spec = asMap(need(m, 'spec', what), what);
  if (type === 'range') {
    return {
      type,
      lastKey: asNumber(need(spec, 'lastkey', what), what),
      keyStep: asNumber(need(spec, 'keystep', what), what),
      limit: asNumber(need(spec, 'limit', what), what),
    };
  }
  if (type === 'keynum') {
    return {
      type,
      keyNumIdx: asNumber(need(spec, 'keynumidx', what), what),
      firstKey: asNumber(need(spec, 'firstkey', what), what),
      keyStep: asNumber(need(spec, 'keystep', what), what),
    };
  }
  if (type === 'unknown') return { type };
  throw new Error(`${what}: unknown find_keys type ${type}`);
}

function parseKeySpec(r: Reply, what: string): KeySpec {
  const m = asMap(r, what);
  return {
    flags: asArray(need(m, 'flags', what), what).map((f) => asString(f, what)),
    beginSearch: parseBeginSearch(need(m, 'begin_search', what), `${what} begin_search`),
    findKeys: parseFindKeys(need(m, 'find_keys', what), `${what} find_keys`),
  };
}

/** Reads `COMMAND INFO` entries, subcommands included, into `out` keyed by name. */
function collectInfo(reply: Reply, groups: Map<string, string>, out: Map<string, CommandSpec>) {
  const e = asArray(reply, 'COMMAND INFO entry');
  const name = asString(e[0], 'command name').toLowerCase();
  const what = `COMMAND INFO ${name}`;
  const subs = e[9] === undefined || e[9] === null ? [] : asArray(e[9], `${what} subcommands`);
  const group = groups.get(name);
  if (group === undefined) throw new Error(`COMMAND DOCS has no group for ${name}`);
  const spec: CommandSpec = {
    name,
    group,
    arity: asNumber(e[1], what),
    flags: asArray(e[2], what)
      .map((f) => asString(f, what))
      .sort(),
    firstKey: asNumber(e[3], what),
    lastKey: asNumber(e[4], what),
    keyStep: asNumber(e[5], what),
    keySpecs: asArray(e[8] ?? [], what).map((k, i) => parseKeySpec(k, `${what} key spec ${i}`)),
    tips: asArray(e[7] ?? [], what)
      .map((t) => asString(t, what))
      .sort(),
    subcommands: subs.map((s) => asString(asArray(s, what)[0], what).toLowerCase()).sort(),
  };
  if (out.has(name)) throw new Error(`${name} listed twice`);
  out.set(name, spec);
  for (const s of subs) collectInfo(s, groups, out);
}

/** `COMMAND DOCS` reply: name -> group, subcommands included. */
function collectGroups(reply: Reply, out: Map<string, string>): void {
  const arr = asArray(reply, 'COMMAND DOCS');
  for (let i = 0; i + 1 < arr.length; i += 2) {
    const name = asString(arr[i], 'COMMAND DOCS name').toLowerCase();
    const docs = asMap(arr[i + 1], `COMMAND DOCS ${name}`);
    out.set(name, asString(need(docs, 'group', name), name));
    const subs = docs.get('subcommands');
    if (subs !== undefined && subs !== null) collectGroups(subs, out);
  }
}

// --- output -------------------------------------------------------------------------------

function render(version: string, specs: CommandSpec[]): string {
  const lines = [
    `// Generated by \`${GENERATE_COMMAND}\` from redis-server ${version}`,
    '// (COMMAND INFO and COMMAND DOCS). Do not edit: regenerate, and review the diff.',
    '',
    "import type { CommandSpec } from './types.ts';",
    '',
    `export const REDIS_VERSION = ${JSON.stringify(version)};`,
    '',
    '/** One entry per command and subcommand (`container|sub`), sorted by name. */',
    'export const COMMAND_TABLE: readonly CommandSpec[] = [',
  ];
  for (const s of specs) lines.push(`${literal(s)},`);
  lines.push('];', '');
  return lines.join('\n');
}

/** A TS literal with single-quoted strings and unquoted keys, which biome then lays out. */
function literal(v: unknown): string {
  if (typeof v === 'string') return `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const fields = Object.entries(v).map(([k, x]) => `${k}: ${literal(x)}`);
    return `{ ${fields.join(', ')} }`;
  }
  throw new Error(`cannot render ${String(v)}`);
}

/** Formats with the project's biome and config, so the committed file passes `biome check`. */
function format(source: string): string {
  const biome = join(ROOT, 'node_modules/.bin/biome');
  const res = spawnSync(biome, ['format', `--stdin-file-path=${TABLE_PATH}`], {
    cwd: ROOT,
    input: source,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) throw new Error(`biome format failed: ${res.stderr || res.error}`);
  return res.stdout;
}

// --- main ---------------------------------------------------------------------------------

/**
 * Runs `fn` against a throwaway redis-server: a free 127.0.0.1 port, no persistence, a scratch
 * dir, killed afterwards. Exported for tests that compare legate with the real server.
 */
export async function withRedisServer<T>(
  redisServer: string,
  fn: (client: RespClient) => Promise<T>,
): Promise<T> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'legate-commands-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const server = spawn(redisServer, [...args, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (d: Buffer) => {
    log += d.toString();
  });
  server.stderr.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<void>((ok) => server.once('close', () => ok()));
  const died = new Promise<never>((_, fail) => {
    server.once('error', fail);
    server.once('exit', (code) => fail(new Error(`redis-server exited (${code}):\n${log}`)));
  });
  // Once we kill it, `died` rejects with nobody waiting: that is expected, not unhandled.
  died.catch(() => {});
  let client: RespClient | undefined;
  try {
    client = await Promise.race([connect(port, Date.now() + 10_000), died]);
    return await fn(client);
  } finally {
    client?.close();
    server.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The formatted source of table.generated.ts, from `redisServer`. */
export function generate(redisServer = 'redis-server'): Promise<string> {
  return withRedisServer(redisServer, async (client) => {
    const info = asString(await client.call('INFO', 'server'), 'INFO');
    const version = /^redis_version:(.+)$/m.exec(info)?.[1]?.trim();
    if (!version) throw new Error('INFO server has no redis_version');
    // COMMAND LIST names subcommands too; INFO and DOCS nest those under their container.
    const names = asArray(await client.call('COMMAND', 'LIST'), 'COMMAND LIST')
      .map((n) => asString(n, 'COMMAND LIST'))
      .filter((n) => !n.includes('|'))
      .sort();
    const groups = new Map<string, string>();
    collectGroups(await client.call('COMMAND', 'DOCS', ...names), groups);
    const specs = new Map<string, CommandSpec>();
    for (const entry of asArray(await client.call('COMMAND', 'INFO', ...names), 'COMMAND INFO')) {
      collectInfo(entry, groups, specs);
    }
    const sorted = [...specs.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    return format(render(version, sorted));
  });
}

function parseArgs(argv: string[]): { out: string; redisServer: string } {
  let out = join(ROOT, TABLE_PATH);
  let redisServer = 'redis-server';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = argv[i + 1];
    if ((a === '--out' || a === '--redis-server') && value !== undefined) {
      if (a === '--out') out = resolve(value);
      else redisServer = value;
      i++;
    } else {
      throw new Error(`usage: ${GENERATE_COMMAND} [--out <file>] [--redis-server <binary>]`);
    }
  }
  return { out, redisServer };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { out, redisServer } = parseArgs(process.argv.slice(2));
    writeFileSync(out, await generate(redisServer));
    process.stdout.write(`wrote ${relative(process.cwd(), out) || out}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
