// Runs the HTTP engine's data plane (workers/http/proxy.ts) in N worker threads sharing its
// ports (SO_REUSEPORT), for `npm run bench -- http` until the worker host runs the HTTP role.
//   node bench/lib/http-runner.ts CONFIG.json WORKERS
// CONFIG.json is an HttpConfig. Prints `ready ENGINE PID` once every worker listens; stops on SIGTERM.

import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { HttpConfig } from '../../engine/config/http-types.ts';
import { createLogger } from '../../engine/log.ts';
import { HttpRole } from '../../engine/roles/http.ts';
import { HttpProxy } from '../../workers/http/proxy.ts';

if (isMainThread) {
  const [file, count = '2'] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: http-runner.ts CONFIG.json [WORKERS]\n');
    process.exit(2);
  }
  const config = JSON.parse(readFileSync(file, 'utf8')) as HttpConfig;
  const workers = Array.from(
    { length: Number(count) },
    () => new Worker(new URL(import.meta.url), { workerData: config }),
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
    for (const w of workers) w.postMessage('stop');
  });
} else {
  const config = workerData as HttpConfig;
  const proxy = new HttpProxy(config, new HttpRole(config).shared, createLogger('error'));
  await proxy.listen();
  parentPort?.postMessage(proxy.engine);
  parentPort?.once('message', async () => {
    await proxy.close();
    process.exit(0);
  });
}
