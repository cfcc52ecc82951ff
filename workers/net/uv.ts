// The one module that reaches below node:net, to the libuv stream handles node:net itself is
// built on (Node's bindings through process.binding, DEP0111, a documentation-only deprecation).
// Why: a net.Socket costs 2.6–4.2 KB per idle connection and a stack of stream-machinery calls
// per read and per write; a bare handle costs about 1 KB and one call (`npm run bench --
// socket-floor`). If a Node release changes these bindings, legate refuses to start with
// LEGATE_NODE_INTERNALS instead of misbehaving.
import { getSystemErrorName } from 'node:util';
import { LegateError } from '../../engine/errors.ts';

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

/** process.binding is typed as returning `any`: these are the shapes checked below. */
function binding<T>(name: string): T {
  return (process as unknown as { binding(name: string): T }).binding(name);
}

function load(): { tcp: TcpBinding; pipe: PipeBinding; stream: StreamBinding } {
  try {
    const tcp = binding<TcpBinding>('tcp_wrap');
    const pipe = binding<PipeBinding>('pipe_wrap');
    const stream = binding<StreamBinding>('stream_wrap');
    const missing = [
      typeof tcp.TCP === 'function' ? '' : 'TCP',
      typeof tcp.TCPConnectWrap === 'function' ? '' : 'TCPConnectWrap',
      typeof tcp.constants?.UV_TCP_REUSEPORT === 'number' ? '' : 'UV_TCP_REUSEPORT',
      typeof pipe.Pipe === 'function' ? '' : 'Pipe',
      typeof stream.WriteWrap === 'function' ? '' : 'WriteWrap',
      typeof stream.ShutdownWrap === 'function' ? '' : 'ShutdownWrap',
      stream.streamBaseState instanceof Int32Array ? '' : 'streamBaseState',
      typeof tcp.TCP?.prototype?.useUserBuffer === 'function' ? '' : 'useUserBuffer',
    ].filter((m) => m !== '');
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    return { tcp, pipe, stream };
  } catch (err) {
    throw new LegateError(
      'LEGATE_NODE_INTERNALS',
      `legate's data plane needs Node's libuv stream bindings, which Node ${process.versions.node} does not provide as expected (${(err as Error).message}); run the Node 24 the project pins`,
    );
  }
}

const bindings = load();
export const { TCP, TCPConnectWrap } = bindings.tcp;
export const TCP_SOCKET = bindings.tcp.constants.SOCKET;
export const TCP_SERVER = bindings.tcp.constants.SERVER;
export const TCP_REUSEPORT = bindings.tcp.constants.UV_TCP_REUSEPORT;
export const { Pipe, PipeConnectWrap } = bindings.pipe;
export const PIPE_SOCKET = bindings.pipe.constants.SOCKET;
export const PIPE_SERVER = bindings.pipe.constants.SERVER;
export const { WriteWrap, ShutdownWrap } = bindings.stream;
/** Where a read's byte count (or negative error) and a write's sync/async outcome are left. */
export const streamState = bindings.stream.streamBaseState;
export const K_READ = bindings.stream.kReadBytesOrError;
export const K_ASYNC = bindings.stream.kLastWriteWasAsync;
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
