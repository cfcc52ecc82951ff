import { createRequire } from 'node:module';
import type { HttpEngine, HttpHandler } from './http-engine.ts';
import { STATUS_TEXT } from './http-engine.ts';

// uWebSockets.js ships as CommonJS with native binaries; its types come from its index.d.ts.
type Uws = typeof import('uWebSockets.js');
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  cb: (token: import('uWebSockets.js').us_listen_socket | false) => void,
) => void;
// `ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT` in index.d.ts; the binding exports no such object.
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/** Loads uWebSockets.js; throws with the reason (e.g. glibc older than 2.38) when it cannot. */
export function loadUws(): Uws {
  return createRequire(import.meta.url)('uWebSockets.js') as Uws;
}

/** The uWebSockets.js engine: faster, but its binaries need glibc >= 2.38 (Debian 13). */
export class UwsHttpEngine implements HttpEngine {
  readonly name = 'uws' as const;
  readonly #uws: Uws;
  #app: ReturnType<Uws['App']> | null = null;
  #listenSocket: unknown = null;

  constructor(uws: Uws = loadUws()) {
    this.#uws = uws;
  }

  listen(host: string, port: number, handler: HttpHandler): Promise<number> {
    const uws = this.#uws;
    const app = uws.App();
    this.#app = app;
    app.any('/*', (res, req) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const method = req.getCaseSensitiveMethod?.() ?? req.getMethod().toUpperCase();
      const path = req.getUrl();
      const query = req.getQuery() ?? '';
      Promise.resolve()
        .then(() => handler({ method, path, query }))
        .catch((err: Error) => ({
          status: 500,
          contentType: 'text/plain; charset=utf-8',
          body: `internal error: ${err.message}\n`,
        }))
        .then((r) => {
          if (aborted) return;
          res.cork(() => {
            res
              .writeStatus(STATUS_TEXT[r.status] ?? String(r.status))
              .writeHeader('content-type', r.contentType)
              .writeHeader('cache-control', 'no-store');
            // uWS writes whatever body it is given, even to HEAD (node:http drops it); the client
            // would then read those bytes as the start of its next response on the connection.
            if (method === 'HEAD') res.endWithoutBody(Buffer.byteLength(r.body));
            else res.end(r.body);
          });
        });
    });
    return new Promise((resolve, reject) => {
      // uWS binds with SO_REUSEPORT unless told otherwise: a second legate on the same admin
      // port would start and silently take half the scrapes. node:http refuses it; so does this.
      // index.d.ts lacks the (host, port, options, cb) form that the binding accepts.
      const listen = app.listen as unknown as ListenWithOptions;
      listen.call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (token) => {
        if (!token) {
          // An app left open keeps a uWS handle that aborts Node when its thread exits.
          app.close();
          if (this.#app === app) this.#app = null;
          reject(
            new Error(`cannot listen on ${host}:${port} (in use, or not an address of this host)`),
          );
          return;
        }
        this.#listenSocket = token;
        resolve(uws.us_socket_local_port(token));
      });
    });
  }

  async close(): Promise<void> {
    if (this.#listenSocket !== null) {
      this.#uws.us_listen_socket_close(
        this.#listenSocket as Parameters<Uws['us_listen_socket_close']>[0],
      );
      this.#listenSocket = null;
    }
    // An open uWS handle aborts Node when its thread exits: close the app itself too.
    this.#app?.close();
    this.#app = null;
  }
}
