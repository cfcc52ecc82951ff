import type { HTTP_ENGINES } from '../config/types.ts';
import type { HttpEngine } from './http-engine.ts';
import { NodeHttpEngine } from './http-node.ts';
import { loadUws, UwsHttpEngine } from './http-uws.ts';

export type HttpEngineChoice = (typeof HTTP_ENGINES)[number];

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
    const message = (err as Error).message;
    const glibc = /`(GLIBC_[\d.]+)' not found/.exec(message);
    const reason = glibc
      ? `its binary needs ${glibc[1]}, newer than this system's glibc`
      : message.split('\n')[0];
    if (choice === 'uws')
      throw new Error(`http engine 'uws' cannot load uWebSockets.js: ${reason.trim()}`);
    return {
      engine: new NodeHttpEngine(),
      why: `uWebSockets.js does not load here (${reason.trim()})`,
    };
  }
}
