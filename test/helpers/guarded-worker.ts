// One proxy unit in a worker thread, on the breaker memory the test's thread made: what a
// worker of the engine does, for tests of limits across real threads.
import { parentPort, workerData } from 'node:worker_threads';
import type { HttpConfig } from '../../engine/config/http-types.ts';
import { createLogger } from '../../engine/log.ts';
import type { HttpShared } from '../../engine/supervisor/protocol.ts';
import { HttpProxy } from '../../workers/http/proxy.ts';

const { config, shared } = workerData as { config: HttpConfig; shared: HttpShared };
const proxy = new HttpProxy(config, shared, createLogger('error'));
await proxy.listen();
parentPort?.postMessage('ready');
parentPort?.once('message', async () => {
  await proxy.close();
  parentPort?.postMessage('closed');
});
