// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the haproxy.cfg below uses HAProxy's "${VAR}" syntax.
/**
 * The real HAProxy and legate run the SAME haproxy.cfg (only the listening ports differ, given
 * through "${VARS}" in the file); sessions are opened one after another and each backend
 * server answers with its own name, so the test compares which server each new session
 * reaches: roundrobin, weighted roundrobin, first (with held sessions and maxconn), leastconn
 * (held sessions, one released), source, and backup failover and return (an active server stopped and
 * started again; first backup only, then option allbackups).
 *
 * legate serves this through the broker's data plane (workers/tcp); legate runs with two
 * workers, so what is compared is process-wide behaviour, as HAProxy's is.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  type RunningProcess,
  startHaproxy,
  startLegate,
  writeConfig,
} from '../helpers/processes.ts';

const CONFIG = `
global
    maxconn 1000
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
listen rr
    bind "127.0.0.1:\${RR_PORT}"
    balance roundrobin
    server a "127.0.0.1:\${A_PORT}"
    server b "127.0.0.1:\${B_PORT}"
    server c "127.0.0.1:\${C_PORT}"
listen wrr
    bind "127.0.0.1:\${WRR_PORT}"
    balance roundrobin
    server a "127.0.0.1:\${A_PORT}" weight 3
    server b "127.0.0.1:\${B_PORT}" weight 1
    server c "127.0.0.1:\${C_PORT}" weight 2
listen first
    bind "127.0.0.1:\${FIRST_PORT}"
    balance first
    server a "127.0.0.1:\${A_PORT}" maxconn 2
    server b "127.0.0.1:\${B_PORT}" maxconn 2
    server c "127.0.0.1:\${C_PORT}"
listen lc
    bind "127.0.0.1:\${LC_PORT}"
    balance leastconn
    server a "127.0.0.1:\${A_PORT}"
    server b "127.0.0.1:\${B_PORT}"
    server c "127.0.0.1:\${C_PORT}"
listen lct
    bind "127.0.0.1:\${LCT_PORT}"
    balance leastconn
    server a "127.0.0.1:\${A_PORT}"
    server b "127.0.0.1:\${B_PORT}"
    server c "127.0.0.1:\${C_PORT}"
listen src
    bind "127.0.0.1:\${SRC_PORT}"
    balance source
    server a "127.0.0.1:\${A_PORT}"
    server b "127.0.0.1:\${B_PORT}"
    server c "127.0.0.1:\${C_PORT}"
listen wrr5
    bind "127.0.0.1:\${WRR5_PORT}"
    balance roundrobin
    server a "127.0.0.1:\${A_PORT}" weight 5
    server b "127.0.0.1:\${B_PORT}" weight 3
    server c "127.0.0.1:\${C_PORT}" weight 1
listen rrfull
    bind "127.0.0.1:\${RRFULL_PORT}"
    balance roundrobin
    server a "127.0.0.1:\${A_PORT}" maxconn 1
    server b "127.0.0.1:\${B_PORT}" weight 2
    server c "127.0.0.1:\${C_PORT}"
listen rrq
    bind "127.0.0.1:\${RRQ_PORT}"
    balance roundrobin
    timeout queue 300
    default-server maxconn 1
    server a "127.0.0.1:\${A_PORT}"
    server b "127.0.0.1:\${B_PORT}"
    server c "127.0.0.1:\${C_PORT}"
listen lcw
    bind "127.0.0.1:\${LCW_PORT}"
    balance leastconn
    server a "127.0.0.1:\${A_PORT}" weight 2
    server b "127.0.0.1:\${B_PORT}"
    server c "127.0.0.1:\${C_PORT}" maxconn 2
listen srcw
    bind "127.0.0.1:\${SRCW_PORT}"
    balance source
    server a "127.0.0.1:\${A_PORT}" weight 2
    server b "127.0.0.1:\${B_PORT}" weight 4
    server c "127.0.0.1:\${C_PORT}" weight 6
listen srcq
    bind "127.0.0.1:\${SRCQ_PORT}"
    balance source
    default-server maxconn 1
    server a "127.0.0.1:\${A_PORT}"
    server b "127.0.0.1:\${B_PORT}"
    server c "127.0.0.1:\${C_PORT}"
listen firstid
    bind "127.0.0.1:\${FIRSTID_PORT}"
    balance first
    server a "127.0.0.1:\${A_PORT}" id 3 maxconn 1
    server b "127.0.0.1:\${B_PORT}" maxconn 1
    server c "127.0.0.1:\${C_PORT}" id 1 maxconn 1
listen rrdown
    bind "127.0.0.1:\${RRDOWN_PORT}"
    timeout check 1s
    default-server check inter 100 fall 2 rise 1
    server a "127.0.0.1:\${A_PORT}" weight 3
    server b "127.0.0.1:\${B_PORT}"
    server e "127.0.0.1:\${E_PORT}" weight 2
listen srcdown
    bind "127.0.0.1:\${SRCDOWN_PORT}"
    balance source
    timeout check 1s
    default-server check inter 100 fall 2 rise 1
    server a "127.0.0.1:\${A_PORT}"
    server b "127.0.0.1:\${B_PORT}"
    server e "127.0.0.1:\${E_PORT}"
listen lcdown
    bind "127.0.0.1:\${LCDOWN_PORT}"
    balance leastconn
    timeout check 1s
    default-server check inter 100 fall 2 rise 1
    server a "127.0.0.1:\${A_PORT}"
    server b "127.0.0.1:\${B_PORT}"
    server e "127.0.0.1:\${E_PORT}"
listen bk
    bind "127.0.0.1:\${BK_PORT}"
    default-server check inter 100 fall 1 rise 1
    server d "127.0.0.1:\${D_PORT}"
    server b "127.0.0.1:\${B_PORT}" backup
    server c "127.0.0.1:\${C_PORT}" backup
listen bkall
    bind "127.0.0.1:\${BKALL_PORT}"
    option allbackups
    default-server check inter 100 fall 1 rise 1
    server d "127.0.0.1:\${D_PORT}"
    server b "127.0.0.1:\${B_PORT}" backup
    server c "127.0.0.1:\${C_PORT}" backup
`;

const LISTENERS = [
  'RR',
  'WRR',
  'FIRST',
  'LC',
  'LCT',
  'SRC',
  'WRR5',
  'RRFULL',
  'RRQ',
  'LCW',
  'SRCW',
  'SRCQ',
  'FIRSTID',
  'RRDOWN',
  'SRCDOWN',
  'LCDOWN',
  'BK',
  'BKALL',
] as const;
type Ports = Record<(typeof LISTENERS)[number], number>;

/** A TCP server that writes its name and a newline to every connection and holds it open. */
class NameServer {
  readonly name: string;
  port = 0;
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  constructor(name: string) {
    this.name = name;
  }

  async start(port = 0): Promise<void> {
    const server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => {});
      // Health checks and sessions alike get the name; a peer's FIN ends the connection.
      socket.on('end', () => socket.end());
      socket.write(`${this.name}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Stops accepting and cuts every connection, as a crashed server would. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server !== null) await new Promise((resolve) => server.close(resolve));
  }
}

/** A session: connected, and the name of the server that answered. */
interface Session {
  readonly name: string;
  readonly socket: Socket;
}

/**
 * Opens one session through a proxy and reads which server answered (bounded by 5 s). `from`:
 * the client's address (any 127.0.0.0/8 address is this machine's), for `balance source`.
 */
function open(port: number, from = '127.0.0.1'): Promise<Session> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from });
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer through port ${port} within 5 s`));
    }, 5000);
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ name: got.slice(0, nl), socket });
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`port ${port} closed the session before a server answered`));
    });
  });
}

/** Closes a session and waits until the proxy has closed it too. */
function close(session: Session): Promise<void> {
  return new Promise((resolve) => {
    if (session.socket.destroyed) return resolve();
    session.socket.once('close', () => resolve());
    session.socket.end();
    session.socket.resume();
  });
}

/** `count` sessions one after another, each closed before the next: who answered each. */
async function sequence(port: number, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = await open(port);
    names.push(s.name);
    await close(s);
  }
  return names;
}

/** Opens sessions until one is answered by a server `accept` takes (a failover seen), within 10 s. */
async function until(port: number, accept: (name: string) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await open(port).catch(() => null);
    if (s !== null) {
      await close(s);
      if (accept(s.name)) return;
    }
    if (Date.now() > deadline) throw new Error(`port ${port}: the expected server never answered`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const servers = {
  a: new NameServer('a'),
  b: new NameServer('b'),
  c: new NameServer('c'),
  d: new NameServer('d'),
  e: new NameServer('e'),
};

/** One session from each of `count` client addresses, 127.0.0.1 up: who answered each. */
async function fromClients(port: number, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 1; i <= count; i++) {
    const s = await open(port, `127.0.0.${i}`);
    names.push(s.name);
    await close(s);
  }
  return names;
}

/**
 * Long enough for both proxies' checks to see a change (inter 100, fall 2, rise 1). fall 2 and
 * timeout check 1s: on a loaded machine a single slow check must not flap a server, which
 * would move it in the leastconn and roundrobin orders differently in each proxy.
 */
const CHECKS_SEE_IT_MS = 1500;

async function portsFor(): Promise<Ports> {
  const ports = {} as Ports;
  for (const l of LISTENERS) ports[l] = await freePort();
  return ports;
}

function envFor(ports: Ports): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const l of LISTENERS) env[`${l}_PORT`] = String(ports[l]);
  for (const [name, s] of Object.entries(servers))
    env[`${name.toUpperCase()}_PORT`] = String(s.port);
  return env;
}

describe('HAProxy and legate on the same haproxy.cfg: which server each new session reaches', () => {
  const cfg = writeConfig(CONFIG, 'haproxy.cfg');
  const proxies: { name: string; ports: Ports; proc: RunningProcess | null }[] = [];
  /** Runs `scenario` through HAProxy, then legate, and returns both results. */
  const both = async <T>(
    scenario: (ports: Ports) => Promise<T>,
  ): Promise<{ haproxy: T; legate: T }> => {
    const [h, l] = proxies;
    return { haproxy: await scenario(h.ports), legate: await scenario(l.ports) };
  };

  before(async () => {
    for (const s of Object.values(servers)) await s.start();
    const hPorts = await portsFor();
    const lPorts = await portsFor();
    proxies.push(
      { name: 'haproxy', ports: hPorts, proc: null },
      { name: 'legate', ports: lPorts, proc: null },
    );
    proxies[0].proc = await startHaproxy(cfg.file, hPorts.BKALL, envFor(hPorts));
    proxies[1].proc = await startLegate(['-c', cfg.file], {
      ...envFor(lPorts),
      LEGATE_WORKERS: '2',
    });
  });

  after(async () => {
    for (const p of proxies) await p.proc?.stop();
    for (const s of Object.values(servers)) await s.stop();
    cfg.cleanup();
  });

  it('roundrobin: in server order, wrapping around', async () => {
    const got = await both((p) => sequence(p.RR, 7));
    assert.deepEqual(got.haproxy, ['a', 'b', 'c', 'a', 'b', 'c', 'a'], 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('roundrobin with weights 3:1:2: the same share in every cycle of six', async () => {
    const got = await both((p) => sequence(p.WRR, 12));
    const shares = (names: string[]) =>
      [names.slice(0, 6), names.slice(6)].map((cycle) => [...cycle].sort().join(''));
    assert.deepEqual(shares(got.haproxy), ['aaabcc', 'aaabcc'], 'HAProxy itself');
    assert.deepEqual(shares(got.legate), shares(got.haproxy));
  });

  it('roundrobin with weights 3:1:2: the same order within a cycle', async () => {
    const got = await both((p) => sequence(p.WRR, 12));
    assert.deepEqual(got.haproxy.slice(0, 6), got.haproxy.slice(6), 'HAProxy repeats its cycle');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('first: fills the lowest server up to its maxconn before the next (sessions held)', async () => {
    const got = await both(async (p) => {
      const held: Session[] = [];
      for (let i = 0; i < 5; i++) held.push(await open(p.FIRST));
      const names = held.map((s) => s.name);
      // One session on a ends: the next new session fills the slot on a again.
      await close(held[0]);
      await new Promise((r) => setTimeout(r, 300));
      const refill = await open(p.FIRST);
      names.push(refill.name);
      await Promise.all([...held.slice(1), refill].map(close));
      return names;
    });
    assert.deepEqual(got.haproxy, ['a', 'a', 'b', 'b', 'c', 'a'], 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  /** Three sessions held, the second released, a fourth opened: who answered each. */
  const leastconn = (port: number) =>
    (async () => {
      const held: Session[] = [];
      for (let i = 0; i < 3; i++) held.push(await open(port));
      const names = held.map((s) => s.name);
      await close(held[1]);
      await new Promise((r) => setTimeout(r, 300));
      const next = await open(port);
      names.push(next.name);
      await Promise.all([held[0], held[2], next].map(close));
      return names;
    })();

  it('leastconn: held sessions spread over every server; a released slot takes the next session', async () => {
    const got = await both((p) => leastconn(p.LC));
    for (const [who, names] of Object.entries(got)) {
      assert.deepEqual(new Set(names.slice(0, 3)), new Set(['a', 'b', 'c']), who);
      assert.equal(names[3], names[1], `${who}: the freed server`);
    }
  });

  it('leastconn: ties go to the same server (HAProxy: the one whose count changed longest ago)', async () => {
    // A backend of its own, so the order is not left over from the test above.
    const got = await both((p) => leastconn(p.LCT));
    assert.deepEqual(got.haproxy, ['a', 'b', 'c', 'b'], 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('source: every client here is 127.0.0.1, so one server takes every session, the same one', async () => {
    const got = await both((p) => sequence(p.SRC, 4));
    assert.equal(new Set(got.haproxy).size, 1, 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('roundrobin with weights 5:3:1: the same order, session by session', async () => {
    const got = await both((p) => sequence(p.WRR5, 18));
    assert.deepEqual(got.haproxy.slice(0, 9), got.haproxy.slice(9), 'HAProxy repeats its cycle');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('roundrobin past a full server (maxconn 1, one session held): the same order', async () => {
    const got = await both(async (p) => {
      // Sessions held until one is on a (weights b 2, a 1, c 1: within the first four).
      const held: Session[] = [];
      while (held.length < 4 && !held.some((h) => h.name === 'a')) held.push(await open(p.RRFULL));
      const names = held.map((h) => h.name);
      const whileFull = await sequence(p.RRFULL, 7);
      await Promise.all(held.map(close));
      await new Promise((r) => setTimeout(r, 300));
      return { names, whileFull, after: await sequence(p.RRFULL, 5) };
    });
    assert.ok(got.haproxy.names.includes('a'), 'HAProxy itself');
    assert.ok(!got.haproxy.whileFull.includes('a'), 'HAProxy skips a while it is full');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('roundrobin, every server full: a session that times out in the queue takes no turn from the next ones', async () => {
    const got = await both(async (p) => {
      const held: Session[] = [];
      for (let i = 0; i < 3; i++) held.push(await open(p.RRQ));
      const names = held.map((h) => h.name);
      // Queued (every server at maxconn 1), then closed by timeout queue 300.
      const queued = connect({ port: p.RRQ, host: '127.0.0.1' });
      queued.on('error', () => {});
      queued.resume();
      await new Promise((r) => queued.once('close', r));
      await Promise.all(held.map(close));
      await new Promise((r) => setTimeout(r, 300));
      return { names, after: await sequence(p.RRQ, 4) };
    });
    assert.deepEqual(got.haproxy.names, ['a', 'b', 'c'], 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('leastconn with weights 2:1:1 and a maxconn: held sessions, two released, two more', async () => {
    const got = await both(async (p) => {
      const held: Session[] = [];
      for (let i = 0; i < 7; i++) held.push(await open(p.LCW));
      const names = held.map((s) => s.name);
      await close(held[1]);
      await close(held[4]);
      await new Promise((r) => setTimeout(r, 300));
      const more = [await open(p.LCW), await open(p.LCW)];
      names.push(...more.map((s) => s.name));
      await Promise.all([...held, ...more].map(close));
      return names;
    });
    assert.equal(got.haproxy.filter((n) => n === 'c').length <= 3, true, 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('source with weights 2:4:6: each of 30 client addresses reaches the same server', async () => {
    const got = await both((p) => fromClients(p.SRCW, 30));
    assert.deepEqual(new Set(got.haproxy), new Set(['a', 'b', 'c']), 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('source, the server at its maxconn: the next session from that client waits for it', async () => {
    const got = await both(async (p) => {
      const first = await open(p.SRCQ);
      const waiting = open(p.SRCQ);
      await new Promise((r) => setTimeout(r, 300));
      await close(first);
      const second = await waiting;
      await close(second);
      return [first.name, second.name];
    });
    assert.equal(got.haproxy[1], got.haproxy[0], 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('first with server ids: the lowest id first (c id 1, b numbered 2, a id 3)', async () => {
    const got = await both(async (p) => {
      const held: Session[] = [];
      for (let i = 0; i < 3; i++) held.push(await open(p.FIRSTID));
      await Promise.all(held.map(close));
      return held.map((s) => s.name);
    });
    assert.deepEqual(got.haproxy, ['c', 'b', 'a'], 'HAProxy itself');
    assert.deepEqual(got.legate, got.haproxy);
  });

  it('a server down and back: roundrobin, leastconn and the source map follow it the same way', async () => {
    /** Sessions through each backend: roundrobin in a row, leastconn held, source by address. */
    const round = (rr: number, lc: number) => async (p: Ports) => {
      const rrNames = await sequence(p.RRDOWN, rr);
      const held: Session[] = [];
      for (let i = 0; i < lc; i++) held.push(await open(p.LCDOWN));
      // One at a time: the order counts change in is leastconn's tie-break in the next round.
      for (const s of held) await close(s);
      return { rr: rrNames, lc: held.map((s) => s.name), src: await fromClients(p.SRCDOWN, 12) };
    };
    const before = await both(round(5, 4));
    assert.ok(before.haproxy.rr.includes('e'), 'HAProxy itself');
    assert.deepEqual(before.legate, before.haproxy);

    const port = servers.e.port;
    await servers.e.stop();
    await new Promise((r) => setTimeout(r, CHECKS_SEE_IT_MS));
    const down = await both(round(7, 4));
    assert.ok(!Object.values(down.haproxy).flat().includes('e'), 'HAProxy itself');
    assert.deepEqual(down.legate, down.haproxy);

    await servers.e.start(port);
    await new Promise((r) => setTimeout(r, CHECKS_SEE_IT_MS));
    const back = await both(round(12, 4));
    assert.ok(back.haproxy.rr.includes('e'), 'HAProxy itself');
    assert.deepEqual(back.legate, back.haproxy);
  });

  it('backup failover and return: the first backup only, then every backup with allbackups', async () => {
    const before = await both((p) => sequence(p.BK, 3));
    assert.deepEqual(before.haproxy, ['d', 'd', 'd'], 'HAProxy itself');
    assert.deepEqual(before.legate, before.haproxy);

    const port = servers.d.port;
    await servers.d.stop();
    // Each proxy finds d down by its own health checks (inter 100 fall 1).
    await both((p) => until(p.BK, (n) => n !== 'd'));
    await both((p) => until(p.BKALL, (n) => n !== 'd'));
    const down = await both((p) => sequence(p.BK, 4));
    assert.deepEqual(down.haproxy, ['b', 'b', 'b', 'b'], 'HAProxy itself');
    assert.deepEqual(down.legate, down.haproxy);
    const all = await both(async (p) => new Set(await sequence(p.BKALL, 4)));
    assert.deepEqual(all.haproxy, new Set(['b', 'c']), 'HAProxy itself');
    assert.deepEqual(all.legate, all.haproxy);

    await servers.d.start(port);
    await both((p) => until(p.BK, (n) => n === 'd'));
    const back = await both((p) => sequence(p.BK, 3));
    assert.deepEqual(back.haproxy, ['d', 'd', 'd'], 'HAProxy itself');
    assert.deepEqual(back.legate, back.haproxy);
  });
});
