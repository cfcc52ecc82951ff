import { lookup } from 'node:dns';
import { renameSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { threadId } from 'node:worker_threads';
import {
  errnoName,
  PIPE_SERVER,
  Pipe,
  TCP,
  TCP_REUSEPORT,
  TCP_SERVER,
  type UvHandle,
  type UvPipeServerHandle,
  type UvServerHandle,
} from './uv.ts';

/** Why a listener could not open: `code` is the system's (EADDRINUSE, EACCES…). */
export class ListenError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** What to do about a listen error, in words a person can act on; `who` guesses the other program. */
export function listenHint(err: ListenError, who: string): string {
  if (err.code === 'EADDRINUSE') return `the address is in use (${who}?)`;
  if (err.code === 'EACCES') return 'permission denied (ports below 1024 need privileges)';
  if (err.code === 'EADDRNOTAVAIL') return 'that address is not one of this host';
  return err.message;
}

export type ListenAddress = { host: string; port: number } | { path: string };

/** Gets each accepted connection's handle. */
export type OnAccept = (handle: UvHandle) => void;

/**
 * A listening socket. TCP listeners set SO_REUSEPORT, so every worker binds the same port and
 * the kernel spreads connections over them.
 */
export class Listener {
  readonly #handle: UvServerHandle | UvPipeServerHandle;
  /** A unix socket's path, and the inode it bound there. */
  #path: string | null = null;
  #inode = 0;

  private constructor(handle: UvServerHandle | UvPipeServerHandle, onAccept: OnAccept) {
    this.#handle = handle;
    // Accept errors (EMFILE…) leave the listener open; the client sees its connection refused.
    handle.onconnection = (err, client) => {
      if (err === 0 && client !== undefined) onAccept(client);
    };
  }

  static async open(
    address: ListenAddress,
    backlog: number,
    onAccept: OnAccept,
  ): Promise<Listener> {
    if ('path' in address) {
      const handle = new Pipe(PIPE_SERVER);
      check(handle, handle.bind(address.path), 'bind', address.path);
      check(handle, handle.listen(backlog), 'listen', address.path);
      const listener = new Listener(handle, onAccept);
      listener.#path = address.path;
      listener.#inode = statSync(address.path).ino;
      return listener;
    }
    const where = `${address.host}:${address.port}`;
    const { ip, family } = await resolve(address.host);
    const handle = new TCP(TCP_SERVER);
    check(
      handle,
      family === 6
        ? handle.bind6(ip, address.port, TCP_REUSEPORT)
        : handle.bind(ip, address.port, TCP_REUSEPORT),
      'bind',
      where,
    );
    check(handle, handle.listen(backlog), 'listen', where);
    return new Listener(handle, onAccept);
  }

  /** The bound port (for port 0). */
  get port(): number {
    const out: { port?: number } = {};
    const handle = this.#handle as UvServerHandle;
    return typeof handle.getsockname === 'function' && handle.getsockname(out) === 0
      ? (out.port ?? 0)
      : 0;
  }

  /** Stops accepting and frees the address; accepted connections are not touched. */
  close(): void {
    closeKeepingPath(this.#path, this.#inode, () => this.#handle.close());
  }
}

/**
 * Runs `close` for a listener bound at `path` (null: TCP) with `inode`. libuv unlinks a unix
 * socket's path when it closes it (net.Server's too). If another listener has bound the path
 * since (a reload opens new listeners before closing old ones), its socket file is set aside
 * meanwhile, so that it stays.
 */
export function closeKeepingPath(path: string | null, inode: number, close: () => void): void {
  let aside: string | null = null;
  if (path !== null) {
    try {
      if (statSync(path).ino !== inode) {
        aside = `${path}.${process.pid}.${threadId}.closing`;
        renameSync(path, aside);
      }
    } catch {
      aside = null;
    }
  }
  close();
  if (aside !== null && path !== null) renameSync(aside, path);
}

function check(handle: { close(): void }, err: number, what: string, where: string): void {
  if (err === 0) return;
  handle.close();
  const code = errnoName(err);
  throw new ListenError(code, `${what} ${code} ${where}`);
}

function resolve(host: string): Promise<{ ip: string; family: number }> {
  const family = isIP(host);
  if (family !== 0) return Promise.resolve({ ip: host, family });
  return new Promise((done, fail) =>
    lookup(host, (err, ip, fam) =>
      err
        ? fail(new ListenError(err.code ?? 'ENOTFOUND', `getaddrinfo ${err.code} ${host}`))
        : done({ ip, family: fam }),
    ),
  );
}
