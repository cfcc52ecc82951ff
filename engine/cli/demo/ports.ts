import { createServer } from 'node:net';
import { freePort } from '../redis-process.ts';

/** A port for a pod: the first of the seed's ports that can be bound, else any free one; `note` says why not the first. */
export interface ChosenPort {
  readonly port: number;
  readonly note: string | null;
}

/** Why 127.0.0.1:port cannot be bound now, or null when it can. */
export function bindProblem(port: number): Promise<string | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      resolve(
        err.code === 'EADDRINUSE'
          ? 'is taken'
          : err.code === 'EACCES'
            ? 'needs root (or a lower net.ipv4.ip_unprivileged_port_start)'
            : `cannot be bound (${err.code ?? err.message})`,
      );
    });
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(null)));
  });
}

/** The first of `wanted` that binds on 127.0.0.1, else a free port; the note names the ports passed over. */
export async function choosePort(wanted: readonly number[]): Promise<ChosenPort> {
  const passed: string[] = [];
  for (const port of wanted) {
    const problem = await bindProblem(port);
    if (problem === null)
      return { port, note: passed.length === 0 ? null : `${passed.join('; ')}: using ${port}` };
    passed.push(`port ${port} ${problem}`);
  }
  const port = await freePort();
  return { port, note: `${passed.join('; ')}: using ${port}` };
}
