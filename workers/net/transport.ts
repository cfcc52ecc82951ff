// Which implementation carries the data plane's connections: bare libuv handles (stream.ts,
// listener.ts) when Node's bindings have the shape uv.ts checks, else net.Socket
// (socket-stream.ts, socket-listener.ts), which only public API holds up. LEGATE_NET=node
// forces net.Socket, LEGATE_NET=uv insists on the handles (and fails to start without them).
import type { Socket } from 'node:net';
import { LegateError } from '../../engine/errors.ts';
import type { FlushScheduler } from './flush-scheduler.ts';
import { type ListenAddress, Listener } from './listener.ts';
import { SocketListener } from './socket-listener.ts';
import { SocketStream } from './socket-stream.ts';
import { type DialAddress, type StreamEvents, UvStream } from './stream.ts';
import { UV_PROBLEM, type UvHandle } from './uv.ts';

/** One connection, as a client session or a shard connection uses it (UvStream, SocketStream). */
export interface Stream {
  readonly destroyed: boolean;
  /** Bytes collected this turn, not yet written. */
  readonly pendingBytes: number;
  /** Ranges collected this turn, not yet written. */
  readonly pendingParts: number;
  /** Bytes written but not yet taken by the kernel. */
  readonly writeQueueSize: number;
  setNoDelay(): void;
  setKeepAlive(): void;
  peerAddress(): string;
  /** `host:port` of this end (the address the peer connected to), or `unix:0`. */
  localAddress(): string;
  pause(): void;
  resume(): void;
  push(bytes: Buffer): void;
  /** Queues buf[start, end) for this turn's write (see UvStream.pushRange for the contract). */
  pushRange(buf: Buffer, start: number, end: number): void;
  /** Writes buf[start, end) now rather than at the turn's end (a proxy's relay; see UvStream.writeRange). */
  writeRange(buf: Buffer, start: number, end: number): void;
  flush(): void;
  /** Writes what is queued, shuts our side down, then closes. */
  end(): void;
  /**
   * A half-close: writes what is queued, sends our FIN and keeps reading; closes once the peer
   * has ended too (a TCP proxy forwarding one side's FIN).
   */
  endWrite(): void;
  destroy(): void;
}

/** A listening socket. */
export interface ListeningSocket {
  /** The bound port (for port 0). */
  readonly port: number;
  /** Stops accepting and frees the address; accepted connections are not touched. */
  close(): void;
}

/** An accepted connection before a Stream takes it over (a libuv handle or a net.Socket). */
export type Accepted = object;

export interface Transport {
  readonly kind: 'uv' | 'node';
  /** Why this one, for the log. */
  readonly why: string;
  listen(
    address: ListenAddress,
    backlog: number,
    onAccept: (accepted: Accepted) => void,
  ): Promise<ListeningSocket>;
  /** Takes over an accepted connection and starts reading it. */
  accept(accepted: Accepted, events: StreamEvents, scheduler: FlushScheduler): Stream;
  /** Takes over an accepted connection without reading it yet: resume() starts. */
  adopt(accepted: Accepted, events: StreamEvents, scheduler: FlushScheduler): Stream;
  /** Closes an accepted connection no stream took over. */
  refuse(accepted: Accepted): void;
  dial(address: DialAddress, events: StreamEvents, scheduler: FlushScheduler): Stream;
}

/** Which transport LEGATE_NET and the bindings call for, and why; an error for a bad value. */
export function chooseTransport(
  setting: string | undefined,
  uvProblem: string | null,
): { kind: 'uv' | 'node'; why: string } | { error: string } {
  const node = process.versions.node;
  switch (setting ?? '') {
    case '':
    case 'auto':
      return uvProblem === null
        ? { kind: 'uv', why: `Node ${node}'s libuv stream bindings have the expected shape` }
        : {
            kind: 'node',
            why: `Node ${node}'s libuv stream bindings are not as expected (${uvProblem}); net.Socket instead`,
          };
    case 'node':
      return { kind: 'node', why: 'LEGATE_NET=node' };
    case 'uv':
      return uvProblem === null
        ? { kind: 'uv', why: 'LEGATE_NET=uv' }
        : {
            error: `LEGATE_NET=uv, but Node ${node}'s libuv stream bindings are not as expected (${uvProblem})`,
          };
    default:
      return { error: `LEGATE_NET must be auto, uv or node, got '${setting}'` };
  }
}

const uv = {
  listen: (address, backlog, onAccept) => Listener.open(address, backlog, onAccept),
  accept: (accepted, events, scheduler) => UvStream.accept(accepted as UvHandle, events, scheduler),
  adopt: (accepted, events, scheduler) => new UvStream(accepted as UvHandle, events, scheduler),
  refuse: (accepted) => (accepted as UvHandle).close(),
  dial: (address, events, scheduler) => UvStream.dial(address, events, scheduler),
} satisfies Omit<Transport, 'kind' | 'why'>;

const node = {
  listen: (address, backlog, onAccept) => SocketListener.open(address, backlog, onAccept),
  accept: (accepted, events, scheduler) =>
    SocketStream.accept(accepted as Socket, events, scheduler),
  adopt: (accepted, events, scheduler) => SocketStream.adopt(accepted as Socket, events, scheduler),
  refuse: (accepted) => (accepted as Socket).destroy(),
  dial: (address, events, scheduler) => SocketStream.dial(address, events, scheduler),
} satisfies Omit<Transport, 'kind' | 'why'>;

/** The transport for `setting` (LEGATE_NET); throws LEGATE_NET for a setting it cannot honour. */
export function makeTransport(setting: string | undefined, uvProblem: string | null): Transport {
  const chosen = chooseTransport(setting, uvProblem);
  if ('error' in chosen) throw new LegateError('LEGATE_NET', chosen.error);
  return { ...(chosen.kind === 'uv' ? uv : node), kind: chosen.kind, why: chosen.why };
}

/** This thread's transport, chosen once. */
export const transport: Transport = makeTransport(process.env.LEGATE_NET, UV_PROBLEM);
