// Small loopback TCP servers for tests of what legate does at the TCP level: a scripted server
// (a test's own protocol, or one that accepts and stays silent), and a frozen listener whose
// accept queue is full, so a connect to it hangs (the kernel drops the SYN) until the caller's
// timeout: what a hung or overloaded server looks like from outside.
import { spawn } from 'node:child_process';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { NODE } from './processes.ts';

export interface ScriptedServer {
  readonly port: number;
  /** The bytes each accepted connection has sent so far, in accept order. */
  readonly received: Buffer[][];
  /** Destroys every accepted connection and closes the listener. */
  close(): Promise<void>;
}

/** A server on 127.0.0.1 that runs `onConnection` for each accepted socket (a no-op: silent). */
export async function startScriptedServer(
  onConnection: (socket: Socket, index: number) => void = () => {},
): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  const received: Buffer[][] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket, received.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    received,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface FrozenListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A listener (backlog 1) in a child process that is stopped (SIGSTOP), its accept queue then
 * filled: further connects get no SYN-ACK and time out. close() kills it.
 */
export async function startFrozenListener(): Promise<FrozenListener> {
  const child = spawn(
    NODE,
    [
      '-e',
      `const s = require('node:net').createServer();
       s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));
       setTimeout(() => process.exit(0), 120000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`frozen listener exited (${code})`)));
  });
  child.kill('SIGSTOP');
  // Completed handshakes wait in the stopped child's accept queue; once it is full (backlog+1
  // on Linux, whatever Node passes for the backlog), a connect gets no SYN-ACK.
  const fillers: Socket[] = [];
  for (let i = 0; i < 1024; i++) {
    const filler = netConnect(port, '127.0.0.1');
    filler.on('error', () => {});
    fillers.push(filler);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      filler.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) break;
  }
  return {
    port,
    async close() {
      for (const f of fillers) f.destroy();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
