import type { HTTP_ENGINES } from '../config/types.ts';
import type { HttpEngine } from './http-engine.ts';
import { NodeHttpEngine } from './http-node.ts';
import { loadUws, UwsHttpEngine } from './http-uws.ts';

export type HttpEngineChoice = (typeof HTTP_ENGINES)[number];

/** Why uWebSockets.js did not load, in a few words (typically: glibc older than 2.38). */
export function uwsUnavailableReason(err: unknown): string {
  const message = (err as Error).message;
  const glibc = /`(GLIBC_[\d.]+)' not found/.exec(message);
  return glibc
    ? `its binary needs ${glibc[1]}, newer than this system's glibc`
    : message.split('\n')[0].trim();
}

/** The engine to use and why, for the log: `auto` prefers uWebSockets.js and falls back to node:http. */
export function chooseHttpEngine(choice: HttpEngineChoice): { engine: HttpEngine; why: string } {
  if (choice === 'node') return { engine: new NodeHttpEngine(), why: 'chosen in the config' };
  try {
    const uws = loadUws();
    return {
      engine: new UwsHttpEngine(uws),
      why: choice === 'uws' ? 'chosen in the config' : 'uWebSockets.js loads here',
    };
  } catch (err) {
    const reason = uwsUnavailableReason(err);
    if (choice === 'uws')
      throw new Error(`http engine 'uws' cannot load uWebSockets.js: ${reason}`);
    return {
      engine: new NodeHttpEngine(),
      why: `uWebSockets.js does not load here (${reason})`,
    };
  }
}
