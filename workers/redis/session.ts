import { NO_SERVER } from '../../engine/shared/ring-memory.ts';
import { now, tick } from '../clock.ts';
import { Fifo, NumberFifo } from '../fifo.ts';
import { READ_BUFFER, type StreamEvents } from '../net/stream.ts';
import { type Accepted, type Stream, transport } from '../net/transport.ts';
import {
  arityOk,
  type CommandInfo,
  extractKeys,
  keysErrorMessage,
  lookupCommand,
  lookupSubcommand,
} from './commands/lookup.ts';
import { CommandId } from './commands/policy.ts';
import {
  Fanout,
  MERGE_ARRAY,
  MERGE_KEYSPACE,
  MERGE_OK,
  MERGE_SUM,
  type MergeKind,
} from './fanout.ts';
import {
  answerLocally,
  arityErrorReply,
  BROADCAST,
  FORWARD_ANY,
  type LocalSession,
} from './local-commands.ts';
import type { RedisPool } from './pool.ts';
import { RequestSlot } from './request-slot.ts';
import { errorReply } from './resp/encode.ts';
import { InputBuffer } from './resp/input-buffer.ts';
import {
  COMPLETE,
  encodeCommand,
  INCOMPLETE,
  PROTOCOL_ERROR,
  RequestParser,
} from './resp/request-parser.ts';
import type { ShardConnection } from './shard/connection.ts';
import type { ReplyWaiter } from './shard/reply-waiter.ts';
import type { DrainWaiter } from './shard/server.ts';

/** Past this many bytes queued toward one shard connection, the sending client pauses until it drains. */
const SHARD_BACKLOG_BYTES = 4 * 1024 * 1024;

/**
 * Requests a client may have in flight before its first reply tells how large its replies are:
 * its reply-size estimate starts at client_max_output_bytes / INITIAL_WINDOW.
 */
const INITIAL_WINDOW = 16;

/** Key positions and their servers for the request being dispatched; shared, as dispatch is synchronous. */
const scratch = { keys: new Int32Array(64), servers: new Int32Array(64) };

const NOAUTH = errorReply('NOAUTH Authentication required.');
const TRUNCATED = errorReply('ERR Protocol error: the connection ended in the middle of a request');

/**
 * One client connection: parses its requests, routes each to a shard (or splits it, or answers
 * it), and writes the replies back strictly in request order. Hot path: requests are forwarded as
 * their own bytes; the only per-request allocation is the reply slot.
 */
export class ClientSession implements LocalSession, DrainWaiter, StreamEvents {
  readonly id: number;
  readonly pool: RedisPool;
  /** Which of each shard's connections this session sends on (see ShardServer.pick). */
  readonly #lane: number;
  name: Buffer | null = null;
  authenticated: boolean;
  readonly #stream: Stream;
  readonly #input = new InputBuffer();
  readonly #parser: RequestParser;
  readonly #slots = new Fifo<RequestSlot>();
  /**
   * When each slot's request was read (the worker clock, ms), in slot order, for the latency
   * histogram: a number field on every slot would cost a heap number per request.
   */
  readonly #readAt = new NumberFifo();
  #closing = false;
  /** The client ended its side of the connection (it may still read). */
  #ended = false;
  /**
   * What closes this client, counted once when it is closed, as nutcracker counts: `eof` when
   * the client ended first (its FIN, or QUIT), whatever follows (a request it cut short, a write
   * it no longer reads); `err` for a protocol or socket error, or when legate closes it.
   */
  #closedBy: 'eof' | 'err' | null = null;
  /** legate is stopping (or the pool was removed): no more reads; answer, then close. */
  #draining = false;
  /** Reads are paused: too many replies owed, too many bytes queued toward us, or a shard backlog. */
  #paused = false;
  #waitingOnShard = false;
  #maxPending: number;
  #maxOutput: number;
  /**
   * The size of this client's replies (fast to rise, slow to fall), so that requests in flight
   * count toward client_max_output_bytes before their replies arrive: without it a client that
   * pipelines large MGETs and never reads would have thousands of them answered into memory.
   */
  #replyEstimate: number;

  constructor(id: number, lane: number, pool: RedisPool, handle: Accepted) {
    this.id = id;
    this.#lane = lane;
    this.pool = pool;
    this.authenticated = pool.config.redisAuth === null;
    this.#parser = new RequestParser(pool.requestLimits);
    this.#maxPending = pool.config.clientMaxPending;
    this.#maxOutput = pool.config.clientMaxOutputBytes;
    this.#replyEstimate = Math.floor(this.#maxOutput / INITIAL_WINDOW);
    const stream = transport.accept(handle, this, pool.scheduler);
    this.#stream = stream;
    stream.setNoDelay();
    if (pool.config.tcpKeepalive) stream.setKeepAlive();
  }

  get remoteAddress(): string {
    return this.#stream.peerAddress();
  }

  /** Called by a slot when its reply is ready: writes every reply at the head of the order. */
  replyReady(): void {
    const slots = this.#slots;
    const readAt = this.#readAt;
    const stats = this.pool.stats;
    const at = now;
    let estimate = this.#replyEstimate;
    for (let s = slots.peek(); s?.buf; s = slots.peek()) {
      slots.shift();
      const size = s.end - s.start;
      // In whole bytes (the step rounds down, so it still settles on the size): a fraction
      // would make the field a heap number, allocated anew on every store.
      estimate = size > estimate ? size : estimate + Math.floor((size - estimate) / 8);
      this.#stream.pushRange(s.buf, s.start, s.end);
      s.written = true;
      // Whole microseconds: a small integer is passed as is, a fraction would be boxed.
      stats.replied(Math.round((at - readAt.shift()) * 1000));
    }
    this.#replyEstimate = estimate;
    if (this.#closing && slots.size === 0) {
      this.#finish();
    } else if (this.#paused) {
      this.#maybeResume();
    }
  }

  /** A shard connection this client was paused on has drained. */
  shardDrained(): void {
    this.#waitingOnShard = false;
    this.#maybeResume();
  }

  /**
   * Graceful stop: read nothing more, answer what was asked (requests already read but held back
   * by a limit included), then close. A request only partly read is dropped.
   */
  drain(): void {
    if (this.#closing || this.#draining) return;
    this.#draining = true;
    this.#stream.pause();
    if (!this.#paused) this.#inputEnded();
  }

  /** Bytes queued toward this client, plus its replies not yet written at their estimated size. */
  #owedBytes(): number {
    return (
      this.#stream.writeQueueSize +
      this.#stream.pendingBytes +
      this.#slots.size * this.#replyEstimate
    );
  }

  /** Whether to stop taking requests: checked after each one, so one read cannot overshoot. */
  #overLimits(): boolean {
    return (
      this.#waitingOnShard ||
      this.#slots.size >= this.#maxPending ||
      this.#owedBytes() > this.#maxOutput
    );
  }

  #maybeResume(): void {
    if (
      this.#closing ||
      this.#waitingOnShard ||
      this.#slots.size > this.#maxPending / 2 ||
      this.#owedBytes() > this.#maxOutput / 2
    ) {
      return;
    }
    this.#paused = false;
    // Requests read before the pause come first; they may pause the client again.
    if (this.#input.length > 0) {
      this.#parseInput(tick());
      if (this.#paused || this.#closing) return;
    }
    if (this.#ended || this.#draining) this.#inputEnded();
    else this.#stream.resume();
  }

  /** Dispatches nothing more, buffered requests included; closes once the replies owed are written. */
  stop(): void {
    this.#closing = true;
    this.#stream.pause();
    if (this.#slots.size === 0) this.#finish();
  }

  /** Answers with `reply`, then closes once every earlier reply has been written (QUIT, errors). */
  closeAfter(slot: RequestSlot, reply: Buffer): void {
    // Not set already: QUIT, the client's own goodbye (errors set theirs first).
    this.#closedBy ??= 'eof';
    this.#closing = true;
    this.#stream.pause();
    slot.answer(reply);
  }

  close(): void {
    this.#stream.destroy();
  }

  /**
   * Writes what is queued, then closes the connection once the kernel has it: fully, not only
   * our side, so a client that keeps its side open after QUIT or an error does not hold it.
   */
  #finish(): void {
    this.#stream.end();
  }

  streamData(length: number): void {
    const at = tick();
    this.#input.push(READ_BUFFER, length);
    // Paused with requests still buffered, a read that was already on its way waits its turn.
    if (!this.#paused && !this.#draining) this.#parseInput(at);
    // Whatever was not parsed must not stay in the read buffer, which the next read reuses.
    else if (this.#input.buf === READ_BUFFER) this.#input.consume(0);
  }

  /** Dispatches the buffered requests until the input runs out or a limit pauses the client. */
  #parseInput(at: number): void {
    const input = this.#input;
    const buf = input.buf;
    const length = input.length;
    const parser = this.#parser;
    let pos = 0;
    while (pos < length && !this.#closing) {
      const r = parser.parse(buf, pos, length);
      if (r === INCOMPLETE) break;
      if (r === PROTOCOL_ERROR) {
        this.#closedBy ??= 'err';
        this.closeAfter(this.#newSlot(at), errorReply(`ERR ${parser.error}`));
        pos = length;
        break;
      }
      const end = parser.end;
      if (r === COMPLETE) {
        const inline = parser.inline;
        if (inline === null) this.#dispatch(buf, pos, end, at);
        else this.#dispatch(inline, 0, inline.length, at);
      }
      pos = end;
      if (this.#overLimits()) break;
    }
    input.consume(pos);
    if (!this.#closing && this.#overLimits()) {
      this.#paused = true;
      this.#stream.pause();
    }
  }

  streamDrained(): void {
    if (this.#paused) this.#maybeResume();
  }

  streamConnected(): void {}

  /**
   * The client closed its side (`printf … | nc -N`): as Redis does, answer every request it sent
   * before closing ours (our side stays open until then).
   */
  streamEnd(): void {
    this.#closedBy ??= 'eof';
    this.#ended = true;
    // Paused, requests may still be buffered: they are answered first, then #inputEnded runs.
    if (!this.#paused) this.#inputEnded();
  }

  /** Every request the client sent is dispatched: close once they are answered. */
  #inputEnded(): void {
    if (!this.#closing && !this.#draining && this.#input.length > 0) {
      // The last request was cut short: say so rather than close without a word.
      this.#parser.reset();
      this.#input.consume(this.#input.length);
      this.closeAfter(this.#newSlot(now), TRUNCATED);
      return;
    }
    this.#closing = true;
    if (this.#slots.size === 0) this.#finish();
  }

  streamError(): void {
    this.#closedBy ??= 'err';
  }

  streamClosed(): void {
    this.#closing = true;
    if (this.#closedBy === 'eof') this.pool.stats.counters.client_eof++;
    else this.pool.stats.counters.client_err++;
    this.pool.sessionClosed(this);
  }

  #newSlot(at: number): RequestSlot {
    const slot = new RequestSlot(this);
    this.#slots.push(slot);
    this.#readAt.push(at);
    return slot;
  }

  /** One complete request in buf[start, end), its arguments in the parser. */
  #dispatch(buf: Buffer, start: number, end: number, at: number): void {
    const parser = this.#parser;
    const argc = parser.argc;
    const argStart = parser.argStart;
    const argEnd = parser.argEnd;
    const slot = this.#newSlot(at);
    let cmd = lookupCommand(buf, argStart[0], argEnd[0]);
    if (cmd?.hasSubcommands && argc > 1) {
      const sub = lookupSubcommand(cmd, buf, argStart[1], argEnd[1]);
      if (sub === undefined) {
        slot.answer(unknownSubcommandReply(buf, argStart, argEnd));
        return;
      }
      cmd = sub;
    }
    if (cmd === undefined) {
      slot.answer(unknownCommandReply(buf, argc, argStart, argEnd));
      return;
    }
    if (!arityOk(cmd, argc)) {
      slot.answer(arityErrorReply(cmd));
      return;
    }
    if (
      !this.authenticated &&
      cmd.id !== CommandId.AUTH &&
      cmd.id !== CommandId.HELLO &&
      cmd.id !== CommandId.QUIT
    ) {
      slot.answer(NOAUTH);
      return;
    }
    switch (cmd.kind) {
      case 'single':
      case 'samehash':
        this.#route(cmd, slot, buf, start, end);
        return;
      case 'fanout':
        this.#fanout(cmd, slot, buf, start, end);
        return;
      case 'local':
        this.#local(cmd, slot, buf, start, end);
        return;
      case 'unsupported':
        slot.answer(
          errorReply(
            `ERR unsupported command '${cmd.name.replace('|', ' ')}' in legate's sharded mode: ${cmd.reason}`,
          ),
        );
        return;
    }
  }

  #keyIndexes(cmd: CommandInfo, buf: Buffer): number {
    const { argc, argStart, argEnd } = this.#parser;
    if (scratch.keys.length < argc) {
      scratch.keys = new Int32Array(argc);
      scratch.servers = new Int32Array(argc);
    }
    return extractKeys(cmd, buf, argc, argStart, argEnd, scratch.keys);
  }

  /** Single-key and same-shard commands: forwarded as they are to the one shard of their keys. */
  #route(cmd: CommandInfo, slot: RequestSlot, buf: Buffer, start: number, end: number): void {
    // The arguments of the request being dispatched (see #dispatch).
    const { argStart, argEnd } = this.#parser;
    const n = this.#keyIndexes(cmd, buf);
    if (n < 0) {
      slot.answer(errorReply(`ERR ${keysErrorMessage(n, cmd)}`));
      return;
    }
    if (n === 0) {
      slot.answer(
        errorReply(
          `ERR '${cmd.name.replace('|', ' ')}' names no key: legate cannot tell which shard to send it to`,
        ),
      );
      return;
    }
    const keys = scratch.keys;
    const locator = this.pool.locator;
    const server = locator.locate(buf, argStart[keys[0]], argEnd[keys[0]]);
    for (let i = 1; i < n; i++) {
      if (locator.locate(buf, argStart[keys[i]], argEnd[keys[i]]) !== server) {
        slot.answer(CROSSSHARD);
        return;
      }
    }
    this.#send(server, buf, start, end, slot);
  }

  /** Sends buf[start, end) to a server, or answers why it cannot. */
  #send(
    server: number,
    buf: Buffer,
    start: number,
    end: number,
    waiter: ReplyWaiter & { complete: RequestSlot['complete'] },
  ): void {
    const conn = this.#connection(server);
    if (typeof conn === 'string') {
      const error = errorReply(conn);
      waiter.complete(error, 0, error.length);
      return;
    }
    conn.send(buf, start, end, waiter);
    if (conn.bufferedBytes > SHARD_BACKLOG_BYTES && !this.#waitingOnShard) {
      this.#waitingOnShard = true;
      this.pool.servers[server].waitForDrain(this);
    }
  }

  /** A connection to `server`, or the error message telling why there is none. */
  #connection(server: number): ShardConnection | string {
    const pool = this.pool;
    if (server === NO_SERVER) {
      pool.stats.counters.forward_error++;
      return `ERR no live server in pool '${pool.config.name}'`;
    }
    const shard = pool.servers[server];
    const conn = shard.pick(this.#lane);
    if (conn === null) {
      pool.stats.counters.forward_error++;
      return `ERR shard ${shard.name} unavailable: ${shard.lastError}`;
    }
    if (conn.inFlight >= pool.config.serverMaxInflight) {
      pool.stats.counters.forward_error++;
      return `ERR legate overloaded: shard ${shard.name} has ${conn.inFlight} requests in flight (server_max_inflight)`;
    }
    return conn;
  }

  /** MGET, MSET, DEL, UNLINK, TOUCH, EXISTS: one part per shard, merged in key order. */
  #fanout(cmd: CommandInfo, slot: RequestSlot, buf: Buffer, start: number, end: number): void {
    // The arguments of the request being dispatched (see #dispatch).
    const { argStart, argEnd } = this.#parser;
    const n = this.#keyIndexes(cmd, buf);
    if (n <= 0) {
      slot.answer(errorReply(`ERR ${n === 0 ? 'no key given' : keysErrorMessage(n, cmd)}`));
      return;
    }
    const keys = scratch.keys;
    const servers = scratch.servers;
    const locator = this.pool.locator;
    let single = true;
    for (let i = 0; i < n; i++) {
      servers[i] = locator.locate(buf, argStart[keys[i]], argEnd[keys[i]]);
      if (servers[i] !== servers[0]) single = false;
    }
    // All keys on one shard: forward the request's own bytes, as for a single-key command.
    if (single) {
      this.#send(servers[0], buf, start, end, slot);
      return;
    }
    const pairs = cmd.name === 'mset';
    const merge: MergeKind = cmd.name === 'mget' ? MERGE_ARRAY : pairs ? MERGE_OK : MERGE_SUM;
    // Distinct servers in order of first appearance; each key's part and place in it.
    const partServers: number[] = [];
    const partConns: ShardConnection[] = [];
    const keyPart = new Int32Array(n);
    const keyIndex = new Int32Array(n);
    const partArgs: Buffer[][] = [];
    const name = buf.subarray(argStart[0], argEnd[0]);
    for (let i = 0; i < n; i++) {
      let p = partServers.indexOf(servers[i]);
      if (p === -1) {
        const conn = this.#connection(servers[i]);
        if (typeof conn === 'string') {
          slot.answer(errorReply(conn));
          return;
        }
        p = partServers.length;
        partServers.push(servers[i]);
        partConns.push(conn);
        partArgs.push([name]);
      }
      keyPart[i] = p;
      keyIndex[i] = partArgs[p].length - 1;
      const k = keys[i];
      partArgs[p].push(buf.subarray(argStart[k], argEnd[k]));
      if (pairs) {
        keyIndex[i] = (partArgs[p].length - 2) / 2;
        partArgs[p].push(buf.subarray(argStart[k + 1], argEnd[k + 1]));
      }
    }
    this.pool.stats.counters.fragments += partConns.length;
    const fanout = new Fanout(slot, merge, keyPart, keyIndex);
    // Sent on the connections checked above (picking again could land on one in backoff), and
    // only once every part is counted, so no early reply can complete the whole too soon.
    const parts: ReplyWaiter[] = [];
    for (let p = 0; p < partConns.length; p++) parts.push(fanout.addPart());
    for (let p = 0; p < partConns.length; p++) {
      const request = encodeCommand(partArgs[p]);
      partConns[p].send(request, 0, request.length, parts[p]);
    }
  }

  #local(cmd: CommandInfo, slot: RequestSlot, buf: Buffer, start: number, end: number): void {
    // The arguments of the request being dispatched (see #dispatch).
    const { argc, argStart, argEnd } = this.#parser;
    const answer = answerLocally(this, cmd, slot, buf, argc, argStart, argEnd);
    if (answer === FORWARD_ANY) {
      this.#send(this.pool.anyServer(), buf, start, end, slot);
    } else if (answer === BROADCAST) {
      this.#broadcast(cmd, slot);
    } else if (answer !== null) {
      slot.answer(answer);
    }
  }

  /** DBSIZE and INFO: asked of every shard, summed. */
  #broadcast(cmd: CommandInfo, slot: RequestSlot): void {
    const isInfo = cmd.id === CommandId.INFO;
    const request = isInfo ? INFO_KEYSPACE : DBSIZE;
    const fanout = new Fanout(
      slot,
      isInfo ? MERGE_KEYSPACE : MERGE_SUM,
      null,
      null,
      isInfo ? (ks) => this.pool.infoReply(ks) : null,
    );
    // Every part is counted before any is sent: a shard in connect backoff fails its part at
    // once, and that must not complete the whole while the other parts are still unasked.
    const count = this.pool.servers.length;
    const parts: ReplyWaiter[] = [];
    for (let s = 0; s < count; s++) parts.push(fanout.addPart());
    for (let s = 0; s < count; s++) this.#send(s, request, 0, request.length, parts[s]);
  }
}

const CROSSSHARD = errorReply("CROSSSHARD Keys in request don't hash to the same shard");
const DBSIZE = encodeCommand([Buffer.from('DBSIZE')]);
const INFO_KEYSPACE = encodeCommand([Buffer.from('INFO'), Buffer.from('keyspace')]);

/**
 * `buf[start, end)` as C's `%.*s` prints it: cut at `max` bytes or at a NUL, whichever is first
 * (Redis formats these messages with printf, so a NUL ends an argument early).
 */
function cString(buf: Buffer, start: number, end: number, max: number): Buffer {
  const stop = Math.min(end, start + max);
  const nul = buf.indexOf(0, start);
  return buf.subarray(start, nul !== -1 && nul < stop ? nul : stop);
}

/** An error reply from raw message bytes, with CR and LF each made a space, as Redis does. */
function rawErrorReply(parts: readonly (Buffer | string)[]): Buffer {
  const message = Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)),
  );
  for (let i = 0; i < message.length; i++) {
    if (message[i] === 13 || message[i] === 10) message[i] = 32;
  }
  return Buffer.concat([Buffer.from('-'), message, Buffer.from('\r\n')]);
}

/**
 * Redis's `ERR unknown command 'foo', with args beginning with: 'a' 'b' `, byte for byte:
 * the arguments share a budget of 128 bytes, and the user's bytes are kept as they are.
 */
function unknownCommandReply(
  buf: Buffer,
  argc: number,
  argStart: Int32Array,
  argEnd: Int32Array,
): Buffer {
  const parts: (Buffer | string)[] = [
    "ERR unknown command '",
    cString(buf, argStart[0], argEnd[0], 128),
    "', with args beginning with: ",
  ];
  let length = 0;
  for (let i = 1; i < argc && length < 128; i++) {
    const arg = cString(buf, argStart[i], argEnd[i], 128 - length);
    parts.push("'", arg, "' ");
    length += arg.length + 3;
  }
  return rawErrorReply(parts);
}

/** Redis's reply to a container command (CONFIG, OBJECT…) with a subcommand it does not have. */
function unknownSubcommandReply(buf: Buffer, argStart: Int32Array, argEnd: Int32Array): Buffer {
  return rawErrorReply([
    "ERR unknown subcommand '",
    cString(buf, argStart[1], argEnd[1], 128),
    "'. Try ",
    buf.toString('latin1', argStart[0], argEnd[0]).toUpperCase(),
    ' HELP.',
  ]);
}
