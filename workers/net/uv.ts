// The one module that reaches below node:net, to the libuv stream handles node:net itself is
// built on (Node's bindings through process.binding, DEP0111, a documentation-only deprecation).
// Why: a net.Socket costs 2.6–4.2 KB per idle connection and a stack of stream-machinery calls
// per read and per write; a bare handle costs about 1 KB and one call (`npm run bench --
// socket-floor`). If a Node release changes these bindings, the data plane runs on net.Socket
// instead (workers/net/transport.ts, logged with why) rather than misbehave or refuse to start.
import { getSystemErrorName } from 'node:util';

/** Where an address came from, as getsockname/getpeername fill it in. */
export interface SockAddr {
  address?: string;
  port?: number;
  family?: string;
}

/** A libuv stream handle (TCP or pipe), as Node's stream_wrap exposes it. */
export interface UvHandle {
  /** Called with `this` the handle; the byte count or error is in streamBaseState. */
  onread: ((this: UvHandle) => void) | null;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, buf: Uint8Array): number;
  writev(req: WriteReq, chunks: Uint8Array[], allBuffers: true): number;
  shutdown(req: ShutdownReq): number;
  /** Reads land in this buffer, from offset 0, instead of a fresh allocation each. */
  useUserBuffer(buf: Uint8Array): void;
  setNoDelay?(on: boolean): number;
  setKeepAlive?(on: boolean, delaySeconds: number): number;
  getpeername?(out: SockAddr): number;
  getsockname?(out: SockAddr): number;
  close(callback?: () => void): void;
  /** Bytes handed to libuv and not yet written to the kernel. */
  readonly writeQueueSize: number;
  /** legate's own: where this handle's reads go (set by UvStream). */
  stream?: unknown;
}

/** A listening handle. */
export interface UvServerHandle {
  onconnection: ((err: number, client: UvHandle | undefined) => void) | null;
  bind(address: string, port: number, flags: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
  getsockname(out: SockAddr): number;
  close(callback?: () => void): void;
}

export interface UvPipeServerHandle {
  onconnection: ((err: number, client: UvHandle | undefined) => void) | null;
  bind(path: string): number;
  listen(backlog: number): number;
  close(callback?: () => void): void;
}

export interface UvTcpHandle extends UvHandle {
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
}

export interface UvPipeHandle extends UvHandle {
  connect(req: ConnectReq, path: string): number;
}

/** A write request; `oncomplete` runs only when the write did not finish at once. */
export interface WriteReq {
  oncomplete: ((this: WriteReq, status: number) => void) | null;
  /** legate's own: what to release when the write completes. */
  owner?: unknown;
  out?: Buffer | null;
  parts?: Uint8Array[] | null;
}

export interface ShutdownReq {
  oncomplete: ((this: ShutdownReq, status: number) => void) | null;
  owner?: unknown;
}

export interface ConnectReq {
  oncomplete: ((this: ConnectReq, status: number) => void) | null;
  owner?: unknown;
  address?: string;
  port?: number;
  /** legate's own: the addresses a host name resolved to, and which one this is. */
  candidates?: readonly { address: string; family: number }[];
  index?: number;
}

interface TcpBinding {
  TCP: new (type: number) => UvTcpHandle & UvServerHandle;
  TCPConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number; SERVER: number; UV_TCP_REUSEPORT: number };
}

interface PipeBinding {
  Pipe: new (type: number) => UvPipeHandle & UvPipeServerHandle;
  PipeConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number; SERVER: number };
}

interface StreamBinding {
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

type Bindings = { tcp: TcpBinding; pipe: PipeBinding; stream: StreamBinding };

/** process.binding is typed as returning `any`: these are the shapes checked below. */
function processBinding<T>(name: string): T {
  return (process as unknown as { binding(name: string): T }).binding(name);
}

/**
 * The bindings if they have the shape this module relies on, else why not (what is missing, or
 * what threw). `binding` is process.binding, or a stand-in in tests.
 */
export function checkBindings(
  binding: <T>(name: string) => T = processBinding,
): Bindings | { problem: string } {
  try {
    const tcp = binding<TcpBinding>('tcp_wrap');
    const pipe = binding<PipeBinding>('pipe_wrap');
    const stream = binding<StreamBinding>('stream_wrap');
    const missing = [
      typeof tcp?.TCP === 'function' ? '' : 'TCP',
      typeof tcp?.TCPConnectWrap === 'function' ? '' : 'TCPConnectWrap',
      typeof tcp?.constants?.UV_TCP_REUSEPORT === 'number' ? '' : 'UV_TCP_REUSEPORT',
      typeof pipe?.Pipe === 'function' ? '' : 'Pipe',
      typeof pipe?.PipeConnectWrap === 'function' ? '' : 'PipeConnectWrap',
      typeof stream?.WriteWrap === 'function' ? '' : 'WriteWrap',
      typeof stream?.ShutdownWrap === 'function' ? '' : 'ShutdownWrap',
      stream?.streamBaseState instanceof Int32Array ? '' : 'streamBaseState',
      typeof stream?.kReadBytesOrError === 'number' ? '' : 'kReadBytesOrError',
      typeof stream?.kLastWriteWasAsync === 'number' ? '' : 'kLastWriteWasAsync',
      typeof tcp?.TCP?.prototype?.useUserBuffer === 'function' ? '' : 'useUserBuffer',
      typeof tcp?.TCP?.prototype?.writeBuffer === 'function' ? '' : 'writeBuffer',
      typeof tcp?.TCP?.prototype?.writev === 'function' ? '' : 'writev',
    ].filter((m) => m !== '');
    if (missing.length > 0) return { problem: `missing ${missing.join(', ')}` };
    return { tcp, pipe, stream };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

const checked = checkBindings();
/**
 * Why Node ${version}'s libuv stream bindings cannot carry the data plane, or null when they
 * can. When not null, the exports below are undefined and workers/net/transport.ts uses the
 * net.Socket implementation instead; nothing else may touch them.
 */
export const UV_PROBLEM: string | null = 'problem' in checked ? checked.problem : null;
// Typed as present: read only when UV_PROBLEM is null (see transport.ts).
const bindings = ('problem' in checked ? {} : checked) as Bindings;
export const { TCP, TCPConnectWrap } = bindings.tcp ?? ({} as TcpBinding);
export const TCP_SOCKET = bindings.tcp?.constants.SOCKET;
export const TCP_SERVER = bindings.tcp?.constants.SERVER;
export const TCP_REUSEPORT = bindings.tcp?.constants.UV_TCP_REUSEPORT;
export const { Pipe, PipeConnectWrap } = bindings.pipe ?? ({} as PipeBinding);
export const PIPE_SOCKET = bindings.pipe?.constants.SOCKET;
export const PIPE_SERVER = bindings.pipe?.constants.SERVER;
export const { WriteWrap, ShutdownWrap } = bindings.stream ?? ({} as StreamBinding);
/** Where a read's byte count (or negative error) and a write's sync/async outcome are left. */
export const streamState = bindings.stream?.streamBaseState;
export const K_READ = bindings.stream?.kReadBytesOrError;
export const K_ASYNC = bindings.stream?.kLastWriteWasAsync;
/** libuv's end-of-stream read result. */
export const UV_EOF = -4095;

/** `ECONNRESET` for a libuv error number. */
export function errnoName(err: number): string {
  try {
    return getSystemErrorName(err);
  } catch {
    return `error ${err}`;
  }
}
