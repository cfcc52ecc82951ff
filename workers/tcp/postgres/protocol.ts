import type { Logger } from '../../../engine/log.ts';
import { READ_BUFFER, type StreamEvents } from '../../net/stream.ts';
import { type Stream, transport } from '../../net/transport.ts';
import type { BackendView } from '../backend.ts';
import { CONNECT, HANDLED, NEED_MORE, type SessionProtocol, type TcpSession } from '../session.ts';
import { BackendKeyScanner } from './backend-key.ts';
import { classifyStartup } from './startup.ts';

/**
 * The cancel table keys on (pid, 32 bits of the secret): a 3.0 key is exactly 4 bytes; a longer
 * 3.2 key is folded with FNV-1a. A fold that collides only sends a cancel to a server that
 * ignores it, as an unknown key would.
 */
export function keyWord(key: Uint8Array): number {
  if (key.length === 4) return (key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3] | 0;
  let h = 0x811c9dc5;
  for (const b of key) h = Math.imul(h ^ b, 0x01000193);
  return h | 0;
}

/**
 * One forwarded CancelRequest: written once connected, then the connection is ended. A server
 * that does not answer the connect within the backend's connect_timeout is given up on, as a
 * session's connect would be (else a black-holed server holds the leg for the kernel's ~2 min).
 */
class CancelLeg implements StreamEvents {
  stream: Stream | null = null;
  readonly #timer: NodeJS.Timeout;
  constructor(connectTimeoutMs: number) {
    this.#timer = setTimeout(() => this.stream?.destroy(), connectTimeoutMs);
    this.#timer.unref();
  }
  streamData(): void {}
  streamEnd(): void {
    this.stream?.destroy();
  }
  streamError(): void {}
  streamDrained(): void {}
  streamConnected(): void {
    clearTimeout(this.#timer);
    this.stream?.end();
  }
  streamClosed(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * PostgreSQL awareness for a session: SSLRequest, GSSENCRequest and direct TLS pass through
 * untouched; a plaintext session's BackendKeyData is read from the server's startup reply and
 * recorded (shared memory, every worker sees it); a CancelRequest, which arrives on a new
 * connection, goes to the server that issued its key, or to every server of the backend when
 * the key is not known (a TLS session's, unreadable here): a server ignores keys not its own.
 */
export class PostgresProtocol implements SessionProtocol {
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  firstBytes(session: TcpSession, bytes: Buffer): number {
    const first = classifyStartup(bytes, 0, bytes.length);
    switch (first.kind) {
      case 'incomplete':
        return NEED_MORE;
      case 'cancel':
        this.#cancel(
          session.backend,
          bytes.subarray(0, first.length),
          first.pid,
          keyWord(first.key),
          session,
        );
        return HANDLED;
      case 'direct-tls':
      case 'invalid':
        // Encrypted from the first byte, or not PostgreSQL: the bytes go through as they are.
        return CONNECT;
      default:
        // A StartupMessage, or an SSL/GSSENC request the server may refuse ('N'): the scanner
        // follows the reply either way and stops at TLS.
        session.protocolState = new BackendKeyScanner();
        return CONNECT;
    }
  }

  fromServer(session: TcpSession, n: number): void {
    const scanner = session.protocolState as BackendKeyScanner | null;
    if (scanner === null) return;
    const status = scanner.feed(READ_BUFFER, 0, n);
    if (status === 'scanning') return;
    session.protocolState = null;
    const keys = session.backend.cancelKeys;
    if (status === 'ready' && scanner.key !== null && keys !== null && session.serverIndex >= 0)
      session.protocolSlot = keys.add(scanner.pid, keyWord(scanner.key), session.serverIndex);
  }

  ended(session: TcpSession): void {
    if (session.protocolSlot >= 0) session.backend.cancelKeys?.remove(session.protocolSlot);
    session.protocolSlot = -1;
    session.protocolState = null;
  }

  #cancel(
    backend: BackendView,
    request: Buffer,
    pid: number,
    key: number,
    session: TcpSession,
  ): void {
    const known = backend.cancelKeys?.find(pid, key) ?? -1;
    const targets = known >= 0 ? [known] : backend.config.servers.map((_, i) => i);
    this.#log.debug(
      {
        pid,
        server: known >= 0 ? backend.config.servers[known].name : null,
        targets: targets.length,
      },
      known >= 0
        ? 'cancel request routed to the server that issued its key'
        : 'cancel request for an unknown key sent to every server',
    );
    const copy = Buffer.from(request);
    for (const s of targets) {
      const ip = backend.address(s);
      if (ip === null) continue;
      const leg = new CancelLeg(backend.config.connectTimeoutMs);
      leg.stream = transport.dial(
        { host: ip, port: backend.config.servers[s].port },
        leg,
        session.service.scheduler,
      );
      leg.stream.push(copy);
    }
  }
}
