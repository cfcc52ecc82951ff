import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LegateError } from '../errors.ts';

/** A redis-server started by legate (the demo) or by its tests and benchmarks, on loopback. */
export interface RedisProcess {
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Ports freePort has handed out in this process. The kernel may offer a just-closed port again,
 * and two of our listeners on one port (SO_REUSEPORT, as legate, HAProxy and nginx bind) would
 * silently share its connections instead of failing to bind.
 */
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that nothing listens on right now, never the same one twice. */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Whether a program is on the PATH, and if not, the Debian package that brings it. */
export function requireProgram(program: string, debianPackage: string): void {
  if (spawnSync(program, ['--version'], { stdio: 'ignore' }).error) {
    throw new LegateError(
      'LEGATE_MISSING_PROGRAM',
      `'${program}' is not installed; install it with: sudo apt-get install ${debianPackage}`,
    );
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port right now. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Waits until `child` (named `what` in errors) accepts connections on 127.0.0.1:port. */
export async function waitForPort(
  port: number,
  child: ChildProcess,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      throw new LegateError(
        'LEGATE_PROCESS_START',
        `${what} on port ${port} exited with code ${child.exitCode}`,
      );
    }
    if (await acceptsConnections(port)) return;
    if (Date.now() > deadline) {
      throw new LegateError(
        'LEGATE_PROCESS_START',
        `${what} on port ${port} did not start in ${timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts `redis-server` on 127.0.0.1 with no persistence, in a temporary directory it removes on stop. */
export async function startRedisServer(
  options: { port?: number; args?: readonly string[] } = {},
): Promise<RedisProcess> {
  requireProgram('redis-server', 'redis-server');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'legate-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...(options.args ?? []),
    ],
    { stdio: 'ignore' },
  );
  try {
    await waitForPort(port, child, 5000, 'redis-server');
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
