import { isSeq, type Node } from 'yaml';
import { describe, parsed, type Reader } from './read.ts';
import { parseServerLine, SERVER_FORM, sortServers } from './server-line.ts';
import type { Placed } from './source.ts';
import type { ServerSpec } from './types.ts';

const line = parsed(parseServerLine);

/** A pool's `servers:` list, in twemproxy's order, with every bad line and duplicate name reported. */
export const readServers: Reader<readonly ServerSpec[]> = (slot, src) => {
  const node = slot.node;
  if (!isSeq(node)) {
    src.report(
      slot.place,
      slot.path,
      `expected a list of ${SERVER_FORM} lines, got ${describe(node)}`,
    );
    return undefined;
  }
  if (node.items.length === 0) {
    src.report(slot.place, slot.path, `is empty; list at least one server as ${SERVER_FORM}`);
    return undefined;
  }
  let ok = true;
  const servers: ServerSpec[] = [];
  const byName = new Map<string, Placed>();
  node.items.forEach((raw, i) => {
    const item = src.deref(raw as Node | null);
    const path = `${slot.path}[${i}]`;
    const place = item ?? slot.place;
    const server = line({ node: item, place, path }, src);
    if (server === undefined) {
      ok = false;
      return;
    }
    const first = byName.get(server.name);
    if (first !== undefined) {
      ok = false;
      src.report(
        place,
        path,
        `server name '${server.name}' is used twice (first on line ${src.lineOf(first)}); ` +
          "names must be unique: give one its own name after the weight ('host:port:weight name')",
      );
      return;
    }
    byName.set(server.name, place);
    servers.push(server);
  });
  return ok ? sortServers(servers) : undefined;
};
