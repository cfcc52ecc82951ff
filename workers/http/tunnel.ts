import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Deadline } from './breaker/deadlines.ts';
import type { IngressUpgrade } from './ingress/types.ts';
import type { Route } from './route.ts';
import type { ListenerStats } from './stats.ts';
import type { UpstreamServer } from './upstream.ts';
import { headerValue, RequestVariables } from './variables.ts';

function head(status: number, raw: readonly (Buffer | string)[], extra: string): string {
  let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString();
    const lower = name.toLowerCase();
    if (lower === 'connection' || lower === 'transfer-encoding' || lower === 'keep-alive') continue;
    text += `${name}: ${raw[i + 1].toString()}\r\n`;
  }
  return `${text}${extra}\r\n`;
}

/**
 * The request headers for the tunnel's upstream, less Connection and Upgrade (undici writes
 * both itself from the `upgrade` option, and refuses them in the list): nginx's WebSocket recipe
 * sets them with proxy_set_header. The Upgrade value sent is that one when set, else the client's.
 */
function tunnelHeaders(
  built: string[],
  clientUpgrade: string,
): { headers: string[]; upgrade: string } {
  const headers: string[] = [];
  let upgrade = clientUpgrade;
  for (let i = 0; i < built.length; i += 2) {
    const lower = built[i].toLowerCase();
    if (lower === 'upgrade') upgrade = built[i + 1];
    else if (lower !== 'connection') headers.push(built[i], built[i + 1]);
  }
  return { headers, upgrade };
}

/** An idle tunnel's deadline ran out: both connections close (nginx: "upstream timed out"). */
function tunnelTimedOut(tunnel: Tunnel): void {
  tunnel.timedOut();
}

/**
 * An `Upgrade` request (WebSocket or other) sent to the chosen server; after its 101 the two
 * connections are joined as raw byte pipes. Any other answer is passed on and the connection
 * closed. One try: a tunnel is not retried. As nginx, a joined tunnel with no bytes either way
 * for proxy_read_timeout is closed, and one whose server takes no bytes for proxy_send_timeout.
 */
export class Tunnel extends RequestVariables implements Dispatcher.DispatchHandler {
  readonly #route: Route;
  readonly #client: IngressUpgrade;
  readonly #listener: ListenerStats;
  #server: UpstreamServer | null = null;
  #index = -1;
  #status = 0;
  #bytes = 0;
  #done = false;
  #upstream: Duplex | null = null;
  readonly #deadline = new Deadline<Tunnel>(this, tunnelTimedOut);

  constructor(route: Route, client: IngressUpgrade, listener: ListenerStats, serverPort: number) {
    super(client, route.upstream.config.name, serverPort, route.realIp);
    this.#route = route;
    this.#client = client;
    this.#listener = listener;
  }

  start(): void {
    const upstream = this.#route.upstream;
    const state = upstream.begin(this);
    const index = upstream.pick(state);
    upstream.end(state);
    if (index === -1) {
      upstream.stats.counters.no_live_upstreams++;
      this.#reply(502, `no live upstreams in ${upstream.config.name}`);
      return;
    }
    this.#index = index;
    const server = upstream.servers[index];
    this.#server = server;
    server.stats.counters.active++;
    this.#client.socket.on('error', () => this.#client.socket.destroy());
    const route = this.#route;
    const { headers, upgrade } = tunnelHeaders(
      route.headers.build(this),
      headerValue(this.rawHeaders, 'upgrade'),
    );
    server.pools[route.connectSlot].dispatch(
      {
        path: this.uri,
        method: this.method as Dispatcher.HttpMethod,
        headers,
        upgrade,
        body: null,
        headersTimeout: route.readTimeoutMs,
        bodyTimeout: route.readTimeoutMs,
      },
      this,
    );
  }

  onConnect(): void {}

  onUpgrade(status: number, raw: Buffer[] | string[] | null, upstream: Duplex): void {
    const client = this.#client.socket;
    this.#finish(status);
    // The client left while the server was answering: nothing to join.
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    client.write(head(status, raw ?? [], 'Connection: upgrade\r\n'));
    if (this.#client.head.length > 0) upstream.write(this.#client.head);
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      this.#deadline.disarm();
      upstream.destroy();
    });
    upstream.on('close', () => {
      this.#deadline.disarm();
      client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
    // nginx ends the whole tunnel at either side's EOF, once what came before it is passed on
    // (ngx_http_upstream_process_upgraded): no half-open tunnel waiting for its read timeout.
    upstream.once('finish', () => client.destroy());
    client.once('finish', () => upstream.destroy());
    this.#upstream = upstream;
    // After the pipes' own listeners: by then a write the server did not take shows as needing drain.
    const activity = () => this.#arm();
    client.on('data', activity);
    upstream.on('data', activity);
    upstream.on('drain', activity);
    this.#arm();
  }

  /**
   * nginx re-arms its timers on every event of the tunnel: proxy_read_timeout while waiting for
   * the server, and proxy_send_timeout too while bytes wait for the server to take them.
   */
  #arm(): void {
    const route = this.#route;
    let ms = route.readTimeoutMs;
    const send = route.sendTimeoutMs;
    if (send > 0 && this.#upstream?.writableNeedDrain === true && (ms === 0 || send < ms))
      ms = send;
    if (ms > 0) this.#deadline.arm(ms);
    else this.#deadline.disarm();
  }

  /** The tunnel was idle (or its server stalled) past its timeout. */
  timedOut(): void {
    const server = this.#server;
    if (server !== null) server.stats.counters.timeouts++;
    this.#upstream?.destroy();
    this.#client.socket.destroy();
  }

  onHeaders(status: number, raw: Buffer[]): boolean {
    if (status < 200) return true;
    this.#status = status;
    this.#client.socket.write(head(status, raw, 'Connection: close\r\n'));
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    return this.#client.socket.write(chunk);
  }

  onComplete(): void {
    this.#client.socket.end();
    this.#finish(this.#status);
  }

  onError(err: Error): void {
    if (this.#done) return;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const server = this.#server as UpstreamServer;
    if (code.endsWith('TIMEOUT')) server.stats.counters.timeouts++;
    else server.stats.counters.failures++;
    this.#route.upstream.release(this.#index, true);
    this.#index = -1;
    if (this.#status !== 0) {
      this.#client.socket.destroy();
      this.#finish(this.#status);
    } else
      this.#reply(
        code.endsWith('TIMEOUT') ? 504 : 502,
        `upstream ${server.spec.name}: ${err.message}`,
      );
  }

  #reply(status: number, text: string): void {
    const body = `${status} ${STATUS_CODES[status] ?? ''}: ${text}\n`;
    this.#client.socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    this.#finish(status);
  }

  #finish(status: number): void {
    if (this.#done) return;
    this.#done = true;
    const server = this.#server;
    if (server !== null) {
      server.stats.counters.active--;
      server.stats.finished(status, 0, this.#bytes);
      if (this.#index !== -1) this.#route.upstream.release(this.#index, false);
    }
    this.#route.upstream.stats.answered(status, 0, this.#bytes, -1);
    this.#listener.answered(status, 0, this.#bytes);
  }
}
