// legate's HTTP data plane for the breaker bench while the engine does not host the HTTP role
// yet: `node bench/lib/legate-http.ts CONFIG [--plain]` loads the config (an envoy.yaml), makes
// the breaker's shared memory and outlier timer as the main thread would, and serves it with
// one proxy unit on this thread. --plain drops every guard and Envoy route (H8's plain proxy).
import { loadConfig } from '../../engine/config/load.ts';
import { guardBuffers, guardStates } from '../../engine/health/guard-state.ts';
import { createLogger } from '../../engine/log.ts';
import { HttpProxy } from '../../workers/http/proxy.ts';

const [file, flag] = process.argv.slice(2);
const loaded = loadConfig(file);
const plain = flag === '--plain';
const http = plain
  ? {
      ...loaded.http,
      upstreams: loaded.http.upstreams.map((u) => ({ ...u, guard: undefined })),
      servers: loaded.http.servers.map((s) => ({
        ...s,
        locations: s.locations.map((l) => ({
          ...l,
          proxy: { ...l.proxy, router: undefined, readTimeoutMs: 60_000, sendTimeoutMs: 60_000 },
        })),
      })),
    }
  : loaded.http;
const log = createLogger('warn');
const states = guardStates(http);
for (const s of states.values()) s.start(log);
const proxy = new HttpProxy(http, { guards: guardBuffers(states) }, log);
await proxy.listen();
process.stdout.write(`ready ${proxy.engine}\n`);
process.on('SIGTERM', () => {
  for (const s of states.values()) s.stop();
  void proxy.close().then(() => process.exit(0));
});
