import type { Server, Socket } from 'node:net';

/** A backend the demo runs in its own process, on 127.0.0.1. */
export interface LocalServer {
  readonly port: number;
  /** Stops listening and ends every connection it still has (keep-alive ones included). */
  stop(): Promise<void>;
}

/** Listens on 127.0.0.1 at a port the system picks. */
export function serveOnLoopback(server: Server): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as { port: number }).port,
        stop: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
