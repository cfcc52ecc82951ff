/**
 * What the control plane knows of the TCP broker: each backend's shared memory, its servers'
 * addresses (resolved here, re-resolved when asked), their health checks and admin state, and
 * the numbers /stats, /metrics and `legate top` show. Workers read the same memory.
 */
import type { TcpBackendConfig, TcpConfig, TcpServerSpec } from '../config/tcp-types.ts';
import { BadValueError, UnknownNameError } from '../errors.ts';
import { NameResolver } from '../health/dns.ts';
import { type CheckResult, runCheck } from '../health/probes/index.ts';
import { RiseFall } from '../health/rise-fall.ts';
import type { Logger } from '../log.ts';
import { allocateCancelKeys } from '../shared/cancel-keys.ts';
import {
  ADMIN_STATES,
  type AdminState,
  allocateBackend,
  BackendMemory,
  DOWN,
  DRAIN,
  MAINT,
  READY,
  ServiceMemory,
  UP,
} from '../shared/tcp-memory.ts';
import type { TcpShared } from '../supervisor/protocol.ts';

/** Cancel-key slots: twice the sessions a backend may hold, at least this many. */
const MIN_CANCEL_SLOTS = 4096;

export type ServerStatus = 'UP' | 'DOWN' | 'DRAIN' | 'MAINT' | 'MAINT(resolution)';

/** One server's control-plane state. */
class ServerState {
  readonly spec: TcpServerSpec;
  readonly index: number;
  address: string | null = null;
  readonly riseFall: RiseFall;
  lastCheck: (CheckResult & { readonly at: number }) | null = null;
  /** Unix ms of the last status change. */
  lastChange = Date.now();
  downSince: number | null = null;
  downtimeMs = 0;
  /** Failed checks, and times marked DOWN (HAProxy chkfail, chkdown). */
  checkFailures = 0;
  timesDown = 0;
  admin: AdminState = 'ready';
  /** Unix ms of the last good DNS answer. */
  resolvedAt = 0;
  timer: NodeJS.Timeout | null = null;

  constructor(spec: TcpServerSpec, index: number) {
    this.spec = spec;
    this.index = index;
    this.riseFall = new RiseFall(spec.timing.rise, spec.timing.fall);
  }

  /** Carries over what a reload must not forget: health, admin state, history. */
  adopt(old: ServerState): void {
    this.address = old.address;
    this.riseFall.up = old.riseFall.up;
    this.lastCheck = old.lastCheck;
    this.lastChange = old.lastChange;
    this.downSince = old.downSince;
    this.downtimeMs = old.downtimeMs;
    this.checkFailures = old.checkFailures;
    this.timesDown = old.timesDown;
    this.admin = old.admin;
    this.resolvedAt = old.resolvedAt;
  }
}

function sameServers(a: TcpBackendConfig, b: TcpBackendConfig): boolean {
  return (
    JSON.stringify(a.servers.map((s) => [s.name, s.maxconn])) ===
    JSON.stringify(b.servers.map((s) => [s.name, s.maxconn]))
  );
}

/** One backend: its memory, servers, checks and DNS loop. */
export class BackendState {
  readonly config: TcpBackendConfig;
  readonly sab: SharedArrayBuffer;
  readonly memory: BackendMemory;
  readonly cancelKeys: SharedArrayBuffer | null;
  readonly servers: ServerState[];
  readonly #log: Logger;
  readonly #resolver: NameResolver;
  #dnsTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Servers that carry over a previous server's state, and that server. */
  readonly #adopted = new Map<ServerState, ServerState>();
  /** Servers start() could not resolve (init_addr_none), logged at commit. */
  readonly #unresolved: { readonly server: ServerState; readonly code: string }[] = [];
  /** The previous backend's shared memory is reused. */
  #kept = false;

  constructor(config: TcpBackendConfig, workers: number, log: Logger, previous?: BackendState) {
    this.config = config;
    this.#log = log.child({ backend: config.name });
    this.#resolver = new NameResolver(config.dns);
    const keep =
      previous !== undefined &&
      sameServers(previous.config, config) &&
      previous.memory.workers === workers;
    this.sab = keep ? previous.sab : allocateBackend(config.servers.length, workers);
    this.memory = keep
      ? previous.memory
      : new BackendMemory(this.sab, config.servers.length, workers);
    const slots = config.servers.reduce((n, s) => n + (s.maxconn ?? 1024), 0) * 2;
    this.cancelKeys = !config.postgres
      ? null
      : keep && previous.cancelKeys !== null
        ? previous.cancelKeys
        : allocateCancelKeys(Math.max(MIN_CANCEL_SLOTS, slots));
    this.servers = config.servers.map((spec, i) => new ServerState(spec, i));
    const old = new Map(previous?.servers.map((s) => [s.spec.name, s]));
    for (const s of this.servers) {
      // The same name on the same host: the same server, whose health and admin state carry over.
      const was = old.get(s.spec.name);
      if (was !== undefined && was.spec.host === s.spec.host) {
        s.adopt(was);
        this.#adopted.set(s, was);
      }
    }
    this.#kept = keep;
  }

  /**
   * Resolves every server's address (a name that does not resolve is fatal unless
   * initAddrNone). Nothing is written to shared memory yet: a reload refused after this leaves
   * the running broker as it was (with a kept memory, the workers read it now).
   */
  async start(): Promise<void> {
    await Promise.all(
      this.servers.map(async (s) => {
        if (s.address !== null) return;
        try {
          s.address = await this.#resolver.resolve(s.spec.host);
          s.resolvedAt = Date.now();
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          if (!s.spec.initAddrNone) {
            throw new Error(
              `backend ${this.config.name}: server ${s.spec.name} (${s.spec.source}): cannot resolve '${s.spec.host}' (${code}); fix the name, or set init_addr_none: true to start without it`,
            );
          }
          this.#unresolved.push({ server: s, code });
        }
      }),
    );
  }

  /**
   * Writes every server's state into shared memory: before the workers are handed a new
   * generation (they read it at once), and again for the running backend when they refuse it
   * (a kept memory may hold what this one wrote).
   */
  publish(): void {
    // A kept memory keeps the address workers dial for a server that has none yet.
    for (const s of this.servers) this.#publish(s, s.address !== null || !this.#kept);
  }

  /**
   * The backend goes live (start() succeeded, the workers took it): its servers' state into
   * shared memory, then checks and DNS. What the previous backend learnt while this one was
   * made ready (checks, admin actions) is taken over first.
   */
  commit(): void {
    for (const [s, was] of this.#adopted) {
      const resolved = s.address;
      s.adopt(was);
      if (s.address === null) s.address = resolved;
    }
    for (const { server: s, code } of this.#unresolved) {
      this.#log.warn(
        { server: s.spec.name, host: s.spec.host, err: code },
        'server %s/%s: %s does not resolve (%s); it waits in MAINT(resolution)',
        this.config.name,
        s.spec.name,
        s.spec.host,
        code,
      );
    }
    this.publish();
    for (const s of this.servers) if (s.spec.check) this.#schedule(s, 0);
    if (this.config.dns !== null && this.servers.some((s) => s.spec.resolve)) this.#scheduleDns();
  }

  #publish(s: ServerState, address = true): void {
    if (address) this.memory.setAddress(s.index, s.address);
    this.memory.setHealth(s.index, s.riseFall.up ? UP : DOWN);
    this.memory.setAdmin(
      s.index,
      s.admin === 'ready' ? READY : s.admin === 'drain' ? DRAIN : MAINT,
    );
  }

  status(s: ServerState): ServerStatus {
    if (s.admin === 'maint') return 'MAINT';
    if (s.address === null) return 'MAINT(resolution)';
    if (!s.riseFall.up) return 'DOWN';
    return s.admin === 'drain' ? 'DRAIN' : 'UP';
  }

  #schedule(s: ServerState, delay: number): void {
    if (this.#closed) return;
    s.timer = setTimeout(() => {
      void this.#check(s);
    }, delay);
    s.timer.unref();
  }

  async #check(s: ServerState): Promise<void> {
    const timing = s.spec.timing;
    if (s.address !== null) {
      const result = await runCheck(
        this.config.check,
        { host: s.address, port: s.spec.port },
        timing.timeoutMs ?? timing.intervalMs,
      );
      if (this.#closed) return;
      s.lastCheck = { ...result, at: Date.now() };
      if (!result.ok) s.checkFailures++;
      const before = this.status(s);
      if (s.riseFall.record(result.ok)) {
        const now = Date.now();
        s.lastChange = now;
        if (s.riseFall.up) {
          if (s.downSince !== null) s.downtimeMs += now - s.downSince;
          s.downSince = null;
        } else {
          s.downSince = now;
          s.timesDown++;
        }
        this.#publish(s);
        this.#logChange(s, before, `${result.code}: ${result.reason}`);
      }
    }
    this.#schedule(s, timing.intervalMs);
  }

  #logChange(s: ServerState, before: ServerStatus, reason: string): void {
    const after = this.status(s);
    const active = this.servers.filter((x) => !x.spec.backup && this.status(x) === 'UP').length;
    const backup = this.servers.filter((x) => x.spec.backup && this.status(x) === 'UP').length;
    const sessions = this.memory.current(s.index);
    const level = after === 'UP' ? 'info' : 'warn';
    this.#log[level](
      {
        server: s.spec.name,
        from: before,
        to: after,
        reason,
        active_left: active,
        backup_left: backup,
        sessions,
      },
      'server %s/%s is %s (was %s): %s; %d active and %d backup servers up, %d sessions on it',
      this.config.name,
      s.spec.name,
      after,
      before,
      reason,
      active,
      backup,
      sessions,
    );
  }

  /** Sets a server ready, drain or maint (admin action). */
  setAdmin(server: string, state: AdminState): boolean {
    const s = this.servers.find((x) => x.spec.name === server);
    if (s === undefined) return false;
    const before = this.status(s);
    s.admin = state;
    this.#publish(s);
    if (before !== this.status(s)) {
      s.lastChange = Date.now();
      this.#logChange(s, before, `set to ${state} by the admin endpoint`);
    }
    return true;
  }

  #scheduleDns(): void {
    const dns = this.config.dns;
    if (dns === null || this.#closed) return;
    this.#dnsTimer = setTimeout(() => {
      void this.#reresolve().finally(() => this.#scheduleDns());
    }, dns.intervalMs);
    this.#dnsTimer.unref();
  }

  async #reresolve(): Promise<void> {
    const dns = this.config.dns;
    if (dns === null) return;
    await Promise.all(
      this.servers
        .filter((s) => s.spec.resolve)
        .map(async (s) => {
          const before = this.status(s);
          try {
            const ip = await this.#resolver.resolve(s.spec.host);
            if (this.#closed) return;
            s.resolvedAt = Date.now();
            if (ip === s.address) return;
            this.#log.warn(
              { server: s.spec.name, host: s.spec.host, from: s.address, to: ip },
              'server %s/%s: %s now resolves to %s (was %s)',
              this.config.name,
              s.spec.name,
              s.spec.host,
              ip,
              s.address ?? 'nothing',
            );
            s.address = ip;
          } catch (err) {
            if (this.#closed || s.address === null) return;
            // The last good address stays for hold_valid after answers stop.
            if (Date.now() - s.resolvedAt < dns.holdValidMs) return;
            const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
            this.#log.warn(
              { server: s.spec.name, host: s.spec.host, err: code },
              'server %s/%s: %s no longer resolves (%s) past hold_valid; no new sessions go to it',
              this.config.name,
              s.spec.name,
              s.spec.host,
              code,
            );
            s.address = null;
          }
          this.#publish(s);
          if (before !== this.status(s)) {
            s.lastChange = Date.now();
            this.#logChange(s, before, 'DNS');
          }
        }),
    );
  }

  close(): void {
    this.#closed = true;
    for (const s of this.servers) if (s.timer) clearTimeout(s.timer);
    if (this.#dnsTimer) clearTimeout(this.#dnsTimer);
  }
}

/** The TCP role of the main thread. */
export class TcpRole {
  readonly config: TcpConfig;
  readonly backends: BackendState[];
  readonly services: { readonly sab: SharedArrayBuffer; readonly memory: ServiceMemory }[];

  constructor(config: TcpConfig, workers: number, log: Logger, previous?: TcpRole) {
    this.config = config;
    const oldBackends = new Map(previous?.backends.map((b) => [b.config.name, b]));
    this.backends = config.backends.map(
      (b) => new BackendState(b, workers, log, oldBackends.get(b.name)),
    );
    const oldServices = new Map(
      previous?.config.services.map((s, i) => [s.name, previous.services[i]]),
    );
    this.services = config.services.map((s) => {
      const was = oldServices.get(s.name);
      if (was !== undefined && was.memory.workers === workers) return was;
      const sab = ServiceMemory.allocate(workers);
      return { sab, memory: new ServiceMemory(sab, workers) };
    });
  }

  /** Resolves every backend's servers; throws (and changes nothing) if one cannot be. */
  async start(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.start()));
  }

  /** Puts the servers' state into shared memory (see BackendState.publish). */
  publish(): void {
    for (const b of this.backends) b.publish();
  }

  /** Puts the resolved state into shared memory and starts checks: after start() succeeded. */
  commit(): void {
    for (const b of this.backends) b.commit();
  }

  get shared(): TcpShared {
    return {
      backends: this.backends.map((b) => ({ memory: b.sab, cancelKeys: b.cancelKeys })),
      services: this.services.map((s) => s.sab),
    };
  }

  workerDied(worker: number): void {
    for (const b of this.backends) b.memory.forgetWorker(worker);
    for (const s of this.services) s.memory.forgetWorker(worker);
  }

  /**
   * Admin action on a server of a backend, named as HAProxy's `set server BACKEND/SERVER` names
   * it, or through a service (a frontend) that sends to it; in a native `tcp:` config the two
   * names are one. Returns the backend's name. Throws UnknownNameError (no such backend, service
   * or server) or BadValueError (state).
   */
  setServerState(name: string, server: string, state: string): string {
    const backendName = this.backends.some((x) => x.config.name === name)
      ? name
      : this.config.services.find((s) => s.name === name)?.backend;
    const b = this.backends.find((x) => x.config.name === backendName);
    if (b === undefined)
      throw new UnknownNameError(
        `no backend or service '${name}' (backends: ${this.backends.map((x) => x.config.name).join(', ')}; services: ${this.config.services.map((s) => s.name).join(', ')})`,
      );
    if (!(ADMIN_STATES as readonly string[]).includes(state))
      throw new BadValueError(`state must be one of ${ADMIN_STATES.join(', ')}, got '${state}'`);
    if (!b.setAdmin(server, state as AdminState))
      throw new UnknownNameError(
        `no server '${server}' in backend '${b.config.name}' (servers: ${b.servers.map((s) => s.spec.name).join(', ')})`,
      );
    return b.config.name;
  }

  /** Why the broker is not ready: a service whose backend has no server that could take a session. */
  readiness(): string[] {
    const reasons: string[] = [];
    for (const s of this.config.services) {
      const b = this.backends.find((x) => x.config.name === s.backend);
      if (b !== undefined && !b.servers.some((x) => b.status(x) === 'UP'))
        reasons.push(`service ${s.name} has no server up in backend ${b.config.name}`);
    }
    return reasons;
  }

  close(): void {
    for (const b of this.backends) b.close();
  }
}
