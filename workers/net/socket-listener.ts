import { statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { closeKeepingPath, type ListenAddress, ListenError } from './listener.ts';

/**
 * listener.ts on net.Server, for when the libuv bindings cannot be used (transport.ts). TCP
 * listeners set SO_REUSEPORT (`reusePort`, Node >= 22.12), so every worker binds the same port.
 * Accepted sockets arrive paused and half-open allowed, as a bare handle would: the stream
 * that takes one over starts reading.
 */
export class SocketListener {
  readonly #server: Server;
  /** A unix socket's path, and the inode it bound there. */
  readonly #path: string | null;
  readonly #inode: number;

  private constructor(server: Server, path: string | null) {
    this.#server = server;
    this.#path = path;
    this.#inode = path === null ? 0 : statSync(path).ino;
  }

  static open(
    address: ListenAddress,
    backlog: number,
    onAccept: (socket: Socket) => void,
  ): Promise<SocketListener> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, onAccept);
    // Accept errors (EMFILE…) leave the listener open; the client sees its connection refused.
    const where = 'path' in address ? address.path : `${address.host}:${address.port}`;
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        server.close();
        const code = err.code ?? 'EINVAL';
        reject(new ListenError(code, `${err.syscall ?? 'listen'} ${code} ${where}`));
      });
      const ready = () => {
        server.removeAllListeners('error');
        server.on('error', () => {});
        resolve(new SocketListener(server, 'path' in address ? address.path : null));
      };
      if ('path' in address) server.listen({ path: address.path, backlog }, ready);
      else
        server.listen({ host: address.host, port: address.port, backlog, reusePort: true }, ready);
    });
  }

  /** The bound port (for port 0). */
  get port(): number {
    const a = this.#server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /** Stops accepting and frees the address; accepted connections are not touched. */
  close(): void {
    closeKeepingPath(this.#path, this.#inode, () => this.#server.close());
  }
}
