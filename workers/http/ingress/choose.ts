import { uwsUnavailableReason } from '../../../engine/admin/choose-engine.ts';
import { NodeIngress } from './node.ts';
import type { Ingress, IngressLimits } from './types.ts';
import { loadUwsForIngress, UwsIngress } from './uws.ts';

/**
 * The ingress engine to run and why: `auto` prefers uWebSockets.js, else node:http; `uwsCannot`
 * (engine/config/uws-limits.ts: something of the config uWS cannot do, or null) means node:http.
 */
export function chooseIngress(
  choice: 'auto' | 'uws' | 'node',
  limits: IngressLimits,
  uwsCannot: string | null,
): { ingress: Ingress; why: string } {
  if (choice === 'node') return { ingress: new NodeIngress(limits), why: 'chosen in the config' };
  if (uwsCannot !== null) {
    if (choice === 'uws') throw new Error(`http engine 'uws': ${uwsCannot}`);
    return { ingress: new NodeIngress(limits), why: `the config needs it (${uwsCannot})` };
  }
  try {
    const uws = loadUwsForIngress(limits);
    return {
      ingress: new UwsIngress(uws, limits),
      why: choice === 'uws' ? 'chosen in the config' : 'uWebSockets.js loads here',
    };
  } catch (err) {
    const reason = uwsUnavailableReason(err);
    if (choice === 'uws')
      throw new Error(`http engine 'uws' cannot load uWebSockets.js: ${reason}`);
    return {
      ingress: new NodeIngress(limits),
      why: `uWebSockets.js does not load here (${reason})`,
    };
  }
}
