// One proxy unit in a worker thread, on the breaker memory the test's thread made: what a
// worker of the engine does, for tests of limits across real threads.
import { parentPort, workerData } from 'node:worker_threads';
import type { HttpConfig } from '../../engine/config/http-types.ts';
import { createLogger } from '../../engine/log.ts';
import { HttpProxy } from '../../workers/http/proxy.ts';

const { config, guards } = workerData as {
  config: HttpConfig;
  guards: Record<string, SharedArrayBuffer>;
};
const proxy = new HttpProxy(config, { guards }, createLogger('error'));
await proxy.listen();
parentPort?.postMessage('ready');
parentPort?.once('message', async () => {
  await proxy.close();
  parentPort?.postMessage('closed');
});
