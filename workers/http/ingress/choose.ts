import { uwsUnavailableReason } from '../../../engine/admin/choose-engine.ts';
import { UWS_NO_REMOTE_PORT } from '../../../engine/config/http-variables.ts';
import { NodeIngress } from './node.ts';
import type { Ingress, IngressLimits } from './types.ts';
import { loadUwsForIngress, UwsIngress } from './uws.ts';

/**
 * The ingress engine to run and why: `auto` prefers uWebSockets.js, else node:http; a config
 * that uses $remote_port gets node:http (reading the config refuses it with `uws`).
 */
export function chooseIngress(
  choice: 'auto' | 'uws' | 'node',
  limits: IngressLimits,
  needsRemotePort: boolean,
): { ingress: Ingress; why: string } {
  if (choice === 'node') return { ingress: new NodeIngress(limits), why: 'chosen in the config' };
  if (needsRemotePort) {
    if (choice === 'uws') throw new Error(`http engine 'uws': $remote_port: ${UWS_NO_REMOTE_PORT}`);
    return {
      ingress: new NodeIngress(limits),
      why: `the config uses $remote_port, and ${UWS_NO_REMOTE_PORT}`,
    };
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
