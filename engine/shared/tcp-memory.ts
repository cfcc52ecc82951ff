/**
 * One TCP backend's state in a SharedArrayBuffer: what every worker reads to pick a server,
 * and the counters operators read. Layout (Int32 cells, then Float64 counters):
 *
 *   per server, Int32 × CTL:   HEALTH ADMIN CUR MAX ADDR_SEQ FAMILY A0 A1 A2 A3
 *   backend, Int32 × 4:        (spare) QUEUE_CUR QUEUE_MAX SESSIONS_NOW
 *   per worker × server Int32: MINE (this worker's share of CUR, to give back if it dies)
 *   per worker, Int32:         MINE_QUEUE
 *   per worker × server Float64 × COUNTERS: STOT BIN BOUT ECON WRETR WREDIS
 *   balancing state, Int32 cells: see balance-memory.ts
 *
 * HEALTH, ADMIN and the address are written by the main thread only. CUR is reserved by any
 * worker with compare-and-swap against `maxconn`, so leastconn and maxconn hold across the
 * process, not per worker. The Float64 counters are written by one worker each (its own row),
 * so plain stores suffice; the main thread sums the rows. The address is a seqlock: the main
 * thread makes ADDR_SEQ odd while it writes.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { balanceCells, releaseBalanceLockOf } from './balance-memory.ts';
import { addressBytes } from './ip.ts';
import { forgetShare, giveSlot, raisePeak, takeSlot } from './worker-shares.ts';

const CTL = 10;
const HEALTH = 0;
const ADMIN = 1;
const CUR = 2;
const MAX = 3;
const ADDR_SEQ = 4;
const FAMILY = 5;
const A0 = 6;

const QUEUE_CUR = 1;
const QUEUE_MAX = 2;
const HEADER = 4;

export const COUNTERS = ['stot', 'bin', 'bout', 'econ', 'wretr', 'wredis'] as const;
export type ServerCounterName = (typeof COUNTERS)[number];
const STOT = 0;
const BIN = 1;
const BOUT = 2;
const ECON = 3;
const WRETR = 4;
const WREDIS = 5;
const NCOUNTERS = COUNTERS.length;

export const UP = 0;
export const DOWN = 1;
export const READY = 0;
export const DRAIN = 1;
export const MAINT = 2;
export const ADMIN_STATES = ['ready', 'drain', 'maint'] as const;
export type AdminState = (typeof ADMIN_STATES)[number];

function layout(servers: number, workers: number) {
  const ints = servers * CTL + HEADER + workers * servers + workers;
  const floatStart = Math.ceil((ints * 4) / 8) * 8;
  const balanceStart = floatStart + workers * servers * NCOUNTERS * 8;
  const bytes = balanceStart + balanceCells(servers) * 4;
  return { ints, floatStart, balanceStart, bytes };
}

export function allocateBackend(servers: number, workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(layout(Math.max(1, servers), workers).bytes);
}

/** A view of one backend's memory, for the main thread and the workers alike. */
export class BackendMemory {
  readonly sab: SharedArrayBuffer;
  readonly servers: number;
  readonly workers: number;
  readonly #i: Int32Array;
  readonly #f: Float64Array;
  readonly #mine: number;
  readonly #mineQueue: number;
  /** The roundrobin / leastconn state every worker's balancer shares (balance-memory.ts). */
  readonly balance: Int32Array;

  constructor(sab: SharedArrayBuffer, servers: number, workers: number) {
    this.sab = sab;
    this.servers = Math.max(1, servers);
    this.workers = workers;
    const { ints, floatStart, balanceStart } = layout(this.servers, workers);
    this.#i = new Int32Array(sab, 0, ints);
    this.#f = new Float64Array(sab, floatStart, (balanceStart - floatStart) / 8);
    this.balance = new Int32Array(sab, balanceStart, balanceCells(this.servers));
    this.#mine = this.servers * CTL + HEADER;
    this.#mineQueue = this.#mine + workers * this.servers;
  }

  health(s: number): number {
    return Atomics.load(this.#i, s * CTL + HEALTH);
  }

  admin(s: number): number {
    return Atomics.load(this.#i, s * CTL + ADMIN);
  }

  /** Sessions on the server now, across all workers. */
  current(s: number): number {
    return Atomics.load(this.#i, s * CTL + CUR);
  }

  maxSessions(s: number): number {
    return Atomics.load(this.#i, s * CTL + MAX);
  }

  /** Main thread only. */
  setHealth(s: number, state: number): void {
    Atomics.store(this.#i, s * CTL + HEALTH, state);
  }

  /** Main thread only. */
  setAdmin(s: number, state: number): void {
    Atomics.store(this.#i, s * CTL + ADMIN, state);
  }

  /** Takes a session slot on server `s` if it has one under `limit` (0: no limit). */
  reserve(s: number, limit: number, worker: number): boolean {
    const before = takeSlot(this.#i, s * CTL + CUR, this.#mine + worker * this.servers + s, limit);
    if (before < 0) return false;
    raisePeak(this.#i, s * CTL + MAX, before + 1);
    return true;
  }

  release(s: number, worker: number): void {
    giveSlot(this.#i, s * CTL + CUR, this.#mine + worker * this.servers + s);
  }

  queued(): number {
    return Atomics.load(this.#i, this.servers * CTL + QUEUE_CUR);
  }

  queueMax(): number {
    return Atomics.load(this.#i, this.servers * CTL + QUEUE_MAX);
  }

  enqueue(worker: number): void {
    const before = takeSlot(this.#i, this.servers * CTL + QUEUE_CUR, this.#mineQueue + worker, 0);
    raisePeak(this.#i, this.servers * CTL + QUEUE_MAX, before + 1);
  }

  dequeue(worker: number): void {
    giveSlot(this.#i, this.servers * CTL + QUEUE_CUR, this.#mineQueue + worker);
  }

  /** Main thread: a worker died; the sessions and queue places it held are gone. */
  forgetWorker(worker: number): void {
    for (let s = 0; s < this.servers; s++)
      forgetShare(this.#i, s * CTL + CUR, this.#mine + worker * this.servers + s);
    forgetShare(this.#i, this.servers * CTL + QUEUE_CUR, this.#mineQueue + worker);
    releaseBalanceLockOf(this.balance, worker);
  }

  /** Adds to this worker's own counter row (one writer per row). */
  count(worker: number, s: number, which: number, n: number): void {
    this.#f[(worker * this.servers + s) * NCOUNTERS + which] += n;
  }

  /** The sum over workers of one counter. */
  total(s: number, name: ServerCounterName): number {
    const which = COUNTERS.indexOf(name);
    let n = 0;
    for (let w = 0; w < this.workers; w++) n += this.#f[(w * this.servers + s) * NCOUNTERS + which];
    return n;
  }

  /** Main thread only: the address workers dial for server `s`; null: none (unresolved). */
  setAddress(s: number, ip: string | null): void {
    const base = s * CTL;
    Atomics.add(this.#i, base + ADDR_SEQ, 1);
    if (ip === null || (!isIPv4(ip) && !isIPv6(ip))) {
      Atomics.store(this.#i, base + FAMILY, 0);
    } else {
      const words = ipWords(ip);
      for (let k = 0; k < 4; k++) Atomics.store(this.#i, base + A0 + k, words[k]);
      Atomics.store(this.#i, base + FAMILY, isIPv4(ip) ? 4 : 6);
    }
    Atomics.add(this.#i, base + ADDR_SEQ, 1);
  }

  hasAddress(s: number): boolean {
    return Atomics.load(this.#i, s * CTL + FAMILY) !== 0;
  }

  /** The address's version: even and unchanged across a read means the read is whole. */
  addressVersion(s: number): number {
    return Atomics.load(this.#i, s * CTL + ADDR_SEQ);
  }

  /** The address as text; null when there is none. Readers cache it by addressVersion. */
  address(s: number): string | null {
    const base = s * CTL;
    for (;;) {
      const v = Atomics.load(this.#i, base + ADDR_SEQ);
      if ((v & 1) === 1) continue;
      const family = Atomics.load(this.#i, base + FAMILY);
      const words = [0, 1, 2, 3].map((k) => Atomics.load(this.#i, base + A0 + k));
      if (Atomics.load(this.#i, base + ADDR_SEQ) !== v) continue;
      if (family === 0) return null;
      return wordsIp(words, family);
    }
  }
}

export const COUNTER = { STOT, BIN, BOUT, ECON, WRETR, WREDIS } as const;

function ipWords(ip: string): number[] {
  const b = addressBytes(ip) ?? new Uint8Array(4);
  const word = (k: number) => (b[k] << 24) | (b[k + 1] << 16) | (b[k + 2] << 8) | b[k + 3] | 0;
  return b.length === 4 ? [word(0), 0, 0, 0] : [word(0), word(4), word(8), word(12)];
}

function wordsIp(words: number[], family: number): string {
  if (family === 4) {
    const w = words[0] >>> 0;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const groups: string[] = [];
  for (const w of words) groups.push(((w >>> 16) & 0xffff).toString(16), (w & 0xffff).toString(16));
  return groups.join(':');
}

/** A service's (listener's) sessions: current across workers (for its maxconn) and totals. */
export class ServiceMemory {
  readonly sab: SharedArrayBuffer;
  readonly workers: number;
  readonly #i: Int32Array;
  readonly #f: Float64Array;

  static allocate(workers: number): SharedArrayBuffer {
    return new SharedArrayBuffer(8 + workers * 4 + (workers % 2) * 4 + workers * 3 * 8);
  }

  constructor(sab: SharedArrayBuffer, workers: number) {
    this.sab = sab;
    this.workers = workers;
    this.#i = new Int32Array(sab, 0, 2 + workers);
    this.#f = new Float64Array(sab, 8 + workers * 4 + (workers % 2) * 4);
  }

  /** Takes a session place if under `limit` (0: none). */
  enter(worker: number, limit: number): boolean {
    const before = takeSlot(this.#i, 0, 2 + worker, limit);
    if (before < 0) return false;
    raisePeak(this.#i, 1, before + 1);
    this.#f[worker * 3] += 1;
    return true;
  }

  leave(worker: number): void {
    giveSlot(this.#i, 0, 2 + worker);
  }

  bytes(worker: number, fromClient: number, toClient: number): void {
    this.#f[worker * 3 + 1] += fromClient;
    this.#f[worker * 3 + 2] += toClient;
  }

  current(): number {
    return Atomics.load(this.#i, 0);
  }

  max(): number {
    return Atomics.load(this.#i, 1);
  }

  totals(): { stot: number; bin: number; bout: number } {
    let stot = 0;
    let bin = 0;
    let bout = 0;
    for (let w = 0; w < this.workers; w++) {
      stot += this.#f[w * 3];
      bin += this.#f[w * 3 + 1];
      bout += this.#f[w * 3 + 2];
    }
    return { stot, bin, bout };
  }

  forgetWorker(worker: number): void {
    forgetShare(this.#i, 0, 2 + worker);
  }
}
