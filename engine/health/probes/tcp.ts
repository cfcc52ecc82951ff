import type { Verdict } from './check-result.ts';
import { ProbeConnection } from './probe-connection.ts';

/** HAProxy's `check` alone: the server passes when it accepts a TCP connection (L4OK). */
export async function probeTcp(host: string, port: number, deadline: number): Promise<Verdict> {
  const c = await ProbeConnection.open(host, port, deadline);
  await c.close();
  return { code: 'L4OK', reason: 'connected' };
}
