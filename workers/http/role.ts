import { formatAddress } from '../../engine/config/address.ts';
import type { HttpConfig } from '../../engine/config/http-types.ts';
import { uwsLimits } from '../../engine/config/uws-limits.ts';
import type { RoleContext, WorkerRole } from '../role.ts';
import { HttpProxy } from './proxy.ts';

/** Every server block's listen addresses, in order: a reload keeps the proxy when these stay. */
function listenKey(config: HttpConfig): string {
  return config.servers.map((s) => s.listen.map(formatAddress).join(',')).join(';');
}

/**
 * The HTTP role in a worker: one HttpProxy serving every server block of the config (all
 * workers listen on each port with SO_REUSEPORT). Its numbers go in the worker's snapshot.
 */
export function httpRole(ctx: RoleContext): WorkerRole {
  return {
    plan: (generation) => {
      const config = generation.config.http;
      return [
        {
          key: 'http',
          create: () => new HttpProxy(config, generation.http, ctx.log, ctx.workerId),
          update: (unit) => {
            const proxy = unit as HttpProxy;
            if (listenKey(proxy.config) !== listenKey(config)) return false;
            // A reload that asks what uWS cannot do ($remote_port, …) needs the node engine.
            if (proxy.engine === 'uws' && uwsLimits(config).length > 0) return false;
            proxy.reconfigure(config, generation.http);
            return true;
          },
        },
      ];
    },
    snapshot: (units) => {
      const proxy = units[0] as HttpProxy | undefined;
      return proxy === undefined ? {} : { http: proxy.snapshot() };
    },
  };
}
