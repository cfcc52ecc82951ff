import { formatAddress } from '../../engine/config/address.ts';
import type { RoleContext, WorkerRole } from '../role.ts';
import { BackendView } from './backend.ts';
import { TcpService } from './service.ts';

/**
 * The TCP broker in a worker: one TcpService per service of the config. Its numbers live in
 * shared memory (engine/shared/tcp-memory.ts), which the main thread reads directly, so it adds
 * nothing to the worker's snapshot.
 */
export function tcpRole(ctx: RoleContext): WorkerRole {
  const worker = { id: ctx.workerId, count: ctx.workers, scheduler: ctx.scheduler, log: ctx.log };
  return {
    plan: (generation) => {
      const tcp = generation.config.tcp;
      const backends = new Map(
        tcp.backends.map((b, i) => [
          b.name,
          new BackendView(b, generation.tcp.backends[i], ctx.workers, ctx.workerId),
        ]),
      );
      return tcp.services.map((config, i) => {
        const backend = backends.get(config.backend) as BackendView;
        const memory = generation.tcp.services[i];
        return {
          key: config.name,
          create: () => new TcpService(config, backend, memory, worker),
          update: (unit) => {
            const service = unit as TcpService;
            const listen = (c: typeof config) => c.listen.map(formatAddress).join(',');
            if (listen(service.config) !== listen(config)) return false;
            service.reconfigure(config, backend, memory);
            return true;
          },
        };
      });
    },
    snapshot: () => ({}),
  };
}
