import { createServer, type Server } from 'node:http';
import type { HttpEngine, HttpHandler } from './http-engine.ts';

/** The node:http engine: works on every platform Node runs on. */
export class NodeHttpEngine implements HttpEngine {
  readonly name = 'node' as const;
  #server: Server | null = null;

  listen(host: string, port: number, handler: HttpHandler): Promise<number> {
    const server = createServer(async (req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      try {
        const r = await handler({
          method: req.method ?? 'GET',
          path: q === -1 ? url : url.slice(0, q),
          query: q === -1 ? '' : url.slice(q + 1),
        });
        res.writeHead(r.status, { 'content-type': r.contentType, 'cache-control': 'no-store' });
        res.end(r.body);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`internal error: ${(err as Error).message}\n`);
      }
    });
    server.keepAliveTimeout = 5000;
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => resolve((server.address() as { port: number }).port));
    });
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server === null) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
