// Runs the HTTP engine's data plane (workers/http/proxy.ts) in N worker threads sharing its
// ports (SO_REUSEPORT), for `npm run bench -- http` until the worker host runs the HTTP role.
//   node bench/lib/http-runner.ts CONFIG.json WORKERS
// CONFIG.json is an HttpConfig. Prints `ready ENGINE PID` once every worker listens; stops on SIGTERM.
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { HttpConfig } from '../../engine/config/http-types.ts';
import { guardBuffers, guardStates } from '../../engine/health/guard-state.ts';
import { createLogger } from '../../engine/log.ts';
import { HttpProxy } from '../../workers/http/proxy.ts';

if (isMainThread) {
  const [file, count = '2'] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: http-runner.ts CONFIG.json [WORKERS]\n');
    process.exit(2);
  }
  const config = JSON.parse(readFileSync(file, 'utf8')) as HttpConfig;
  // The breaker's shared memory and outlier timer, as the engine's main thread keeps them.
  const states = guardStates(config);
  for (const s of states.values()) s.start(createLogger('warn'));
  const guards = guardBuffers(states);
  const workers = Array.from(
    { length: Number(count) },
    () => new Worker(new URL(import.meta.url), { workerData: { config, guards } }),
  );
  const engines = await Promise.all(
    workers.map(
      (w) =>
        new Promise<string>((resolve, reject) => {
          w.once('message', (m: string) => resolve(m));
          w.once('error', reject);
        }),
    ),
  );
  process.stdout.write(`ready ${engines[0]} ${process.pid}\n`);
  process.once('SIGTERM', () => {
    for (const s of states.values()) s.stop();
    for (const w of workers) w.postMessage('stop');
  });
} else {
  const { config, guards } = workerData as {
    config: HttpConfig;
    guards: Record<string, SharedArrayBuffer>;
  };
  const proxy = new HttpProxy(config, { guards }, createLogger('error'));
  await proxy.listen();
  parentPort?.postMessage(proxy.engine);
  parentPort?.once('message', async () => {
    await proxy.close();
    process.exit(0);
  });
}
