import { formatAddress } from '../../engine/config/address.ts';
import type { HttpConfig, HttpServerBlockConfig } from '../../engine/config/http-types.ts';
import { uwsLimits } from '../../engine/config/uws-limits.ts';
import { LegateError } from '../../engine/errors.ts';
import type { Logger } from '../../engine/log.ts';
import { type HttpSnapshot, serverBlockName } from '../../engine/metrics/http-snapshot.ts';
import { HttpPeerHealth, peerOffsets } from '../../engine/shared/http-peers-memory.ts';
import type { HttpShared } from '../../engine/supervisor/protocol.ts';
import { tick } from '../clock.ts';
import { GuardedForward } from './breaker/guarded-forward.ts';
import { guardedUpstreams } from './breaker/guarded-set.ts';
import type { GuardedUpstream } from './breaker/guarded-upstream.ts';
import { Forward } from './forward.ts';
import { chooseIngress } from './ingress/choose.ts';
import type { Ingress, IngressExchange, IngressLimits, IngressUpgrade } from './ingress/types.ts';
import { compileRoutes, findRoute, type Route } from './route.ts';
import { ListenerStats } from './stats.ts';
import { Tunnel } from './tunnel.ts';
import { connectTimeoutsOf, HttpUpstream } from './upstream.ts';
import { splitClientsScope, type VariableScope } from './variables.ts';

/** nginx's large_client_header_buffers 4 8k. */
const LINE_BYTES = 8192;
const HEAD_BYTES = 4 * 8192;

/** One `server` block's listening sockets in this worker, and its routes. */
class Listener {
  block: HttpServerBlockConfig;
  readonly stats = new ListenerStats();
  readonly ingresses: Ingress[] = [];
  routes: Route[];
  port = 0;

  constructor(block: HttpServerBlockConfig, routes: Route[]) {
    this.block = block;
    this.routes = routes;
  }
}

/** The request line and each header line against nginx's buffers: what the parser let through. */
function headTooLarge(ex: IngressExchange): number {
  if (ex.method.length + ex.uri.length + 10 > LINE_BYTES) return 414;
  const raw = ex.rawHeaders;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i].length + raw[i + 1].length + 4 > LINE_BYTES) return 400;
  return 0;
}

/**
 * The HTTP role's data plane in one worker: ingress on every `listen` of every `server` block
 * (SO_REUSEPORT: all workers share each port), keep-alive upstream pools per server, and the
 * numbers per listener, upstream and server.
 */
export class HttpProxy {
  config: HttpConfig;
  readonly log: Logger;
  #upstreams = new Map<string, HttpUpstream>();
  /** Upstreams with limits, outlier detection or a circuit: forwarded by breaker/guarded-forward.ts. */
  #guarded = new Map<string, GuardedUpstream>();
  #listeners: Listener[] = [];
  #engine: 'uws' | 'node' = 'node';

  /** This worker's number: whose share of the peer table's and the breakers' counts it keeps. */
  readonly #worker: number;

  /**
   * `shared`: the peer table (engine/roles/http.ts) the balancers of every worker use;
   * `worker`: this worker's number, whose shares of the peer table's and the breakers' counts
   * this proxy keeps.
   */
  constructor(config: HttpConfig, shared: HttpShared, log: Logger, worker = 0) {
    this.config = config;
    this.#worker = worker;
    this.log = log.child({ role: 'http' });
    const scope = splitClientsScope(config.splitClients);
    this.#upstreams = this.#makeUpstreams(config, shared, scope);
    this.#guarded = guardedUpstreams(config, shared.guards, worker, this.log);
    this.#listeners = config.servers.map(
      (b) => new Listener(b, compileRoutes(b, this.#upstreams, scope)),
    );
  }

  #makeUpstreams(
    config: HttpConfig,
    shared: HttpShared,
    scope: VariableScope,
    previous: ReadonlyMap<string, HttpUpstream> = new Map(),
  ): Map<string, HttpUpstream> {
    const map = new Map<string, HttpUpstream>();
    const health = new HttpPeerHealth(shared.peers, this.#worker);
    const { offsets } = peerOffsets(config.upstreams);
    // Timeouts are each location's own (route.ts): the upstream only keeps a pool per connect timeout.
    for (const [i, u] of config.upstreams.entries()) {
      map.set(
        u.name,
        new HttpUpstream(
          u,
          connectTimeoutsOf(config, u.name),
          health,
          offsets[i],
          scope,
          previous.get(u.name),
        ),
      );
    }
    return map;
  }

  /** The engine the ingress runs on, once listening. */
  get engine(): 'uws' | 'node' {
    return this.#engine;
  }

  /** Ports bound, in the order of the config's server blocks and their `listen`s. */
  ports(): number[] {
    return this.#listeners.flatMap((l) => l.ingresses.map(() => l.port));
  }

  /** Opens every `listen` of every server block; true (the RoleUnit contract: it listens). */
  async listen(): Promise<boolean> {
    for (const listener of this.#listeners) {
      const block = listener.block;
      const limits: IngressLimits = {
        maxLineBytes: LINE_BYTES,
        maxHeaderLineBytes: LINE_BYTES,
        maxHeadBytes: HEAD_BYTES,
        headerTimeoutMs: block.clientHeaderTimeoutMs,
        keepAliveTimeoutMs: block.keepaliveTimeoutMs,
      };
      for (const address of block.listen) {
        if (address.kind !== 'tcp')
          throw new LegateError(
            'LEGATE_CONFIG',
            `server ${block.name}: listen on a unix socket is not supported yet`,
          );
        const { ingress, why } = chooseIngress(
          this.config.engine,
          limits,
          uwsLimits(this.config)[0]?.why ?? null,
        );
        this.#engine = ingress.engine;
        try {
          listener.port = await ingress.listen(address.host, address.port, {
            request: (ex) => this.#request(listener, ex),
            upgrade: ingress.engine === 'node' ? (up) => this.#upgrade(listener, up) : undefined,
            rejected: (status) => listener.stats.rejected(status, 0, 0),
          });
        } catch (err) {
          throw new LegateError(
            'LEGATE_LISTEN',
            `server ${block.name} cannot listen on ${formatAddress(address)}: ${(err as Error).message}`,
          );
        }
        listener.ingresses.push(ingress);
        this.log.debug(
          { engine: ingress.engine, why },
          `http listening on ${formatAddress(address)}`,
        );
      }
    }
    return true;
  }

  #request(listener: Listener, ex: IngressExchange): void {
    const startedAt = tick();
    const tooLarge = headTooLarge(ex);
    if (tooLarge !== 0) {
      ex.reply(
        tooLarge,
        tooLarge === 414 ? 'request line too long' : 'Request Header Or Cookie Too Large',
        true,
      );
      listener.stats.rejected(tooLarge, 0, 0);
      return;
    }
    const route = findRoute(listener.routes, ex.uri);
    if (route === null) {
      ex.reply(404, 'no location for this URI', false);
      listener.stats.rejected(404, 0, 0);
      return;
    }
    // nginx refuses a declared length over client_max_body_size before reading any of it.
    const declared = Number(declaredLength(ex.rawHeaders));
    if (route.maxBodyBytes > 0 && declared > route.maxBodyBytes) {
      ex.reply(413, `request body over client_max_body_size (${route.maxBodyBytes} bytes)`, true);
      listener.stats.rejected(413, 0, 0);
      return;
    }
    const guarded =
      this.#guarded.size === 0 ? undefined : this.#guarded.get(route.upstream.config.name);
    if (guarded !== undefined)
      new GuardedForward(route, guarded, ex, listener.stats, listener.port, startedAt).start();
    else new Forward(route, ex, listener.stats, listener.port, startedAt).start();
  }

  #upgrade(listener: Listener, up: IngressUpgrade): void {
    const route = findRoute(listener.routes, up.uri);
    if (route === null) {
      up.socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      listener.stats.rejected(404, 0, 0);
      return;
    }
    new Tunnel(route, up, listener.stats, listener.port).start();
  }

  /**
   * A reload: listeners stay (and their clients); routes, upstreams and their pools are rebuilt.
   * Old pools finish what they carry, then close.
   */
  reconfigure(config: HttpConfig, shared: HttpShared): void {
    const old = this.#upstreams;
    const oldGuarded = this.#guarded;
    this.config = config;
    const scope = splitClientsScope(config.splitClients);
    this.#upstreams = this.#makeUpstreams(config, shared, scope, old);
    this.#guarded = guardedUpstreams(config, shared.guards, this.#worker, this.log);
    for (const g of oldGuarded.values()) g.close();
    for (const [i, listener] of this.#listeners.entries()) {
      const block = config.servers[i];
      if (block !== undefined) {
        listener.block = block;
        listener.routes = compileRoutes(block, this.#upstreams, scope);
      }
    }
    for (const u of old.values()) for (const s of u.servers) void s.close();
  }

  stopAccepting(): void {
    for (const l of this.#listeners) for (const i of l.ingresses) i.stopAccepting();
  }

  /** Stops accepting; open connections finish their requests, until `deadline` (ms since epoch). */
  async drain(deadline: number): Promise<void> {
    this.stopAccepting();
    while (Date.now() < deadline && this.#openConnections() > 0) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.close(Math.max(0, deadline - Date.now()));
  }

  #openConnections(): number {
    let active = 0;
    for (const u of this.#upstreams.values())
      for (const s of u.servers) active += s.stats.counters.active;
    return active;
  }

  /** Closes client connections (giving answers in progress up to `graceMs`), then the upstream pools. */
  async close(graceMs = 0): Promise<void> {
    await Promise.all(this.#listeners.flatMap((l) => l.ingresses.map((i) => i.close(graceMs))));
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()));
    await Promise.all([...this.#guarded.values()].map((g) => g.destroy()));
  }

  snapshot(): HttpSnapshot {
    return {
      engine: this.#engine,
      listeners: this.#listeners.map((l, i) => ({
        name: serverBlockName(l.block.name, i),
        counters: l.stats.counters,
      })),
      upstreams: [...this.#upstreams.values()].map((u) => u.snapshot()),
    };
  }
}

function declaredLength(raw: readonly string[]): string {
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i].length === 14 && raw[i].toLowerCase() === 'content-length') return raw[i + 1];
  return '0';
}
