/**
 * What the uws ingress engine (uWebSockets.js 20.57, the registry's build) cannot do as nginx
 * does: such a config runs on node:http under `engine: auto`, and `engine: uws` refuses it.
 */
import type { HttpConfig } from './http-types.ts';
import { VARIABLE_PATTERN, variableTexts } from './http-variables.ts';

/** uWS's HttpResponse has no remote-port getter (uNetworking/uWebSockets.js#295 is still open). */
export const UWS_NO_REMOTE_PORT = "uWebSockets.js 20.57 does not report a client's port";

/** uWS closes after a response only when it is ended in one call, not after a streamed one. */
export const UWS_NO_KEEPALIVE_OFF =
  'uWebSockets.js 20.57 cannot close the connection after a streamed response';

/** uWS answers an upgrade itself (its WebSocket server); it cannot join two sockets byte for byte. */
export const UWS_NO_TUNNEL = 'uWebSockets.js cannot tunnel an Upgrade to a server byte for byte';

/** Each thing in `http` the uws engine cannot serve as nginx would: where, and why. */
export function uwsLimits(http: HttpConfig): { path: string; why: string }[] {
  const out: { path: string; why: string }[] = [];
  for (const { path, text } of variableTexts(http))
    for (const m of text.matchAll(VARIABLE_PATTERN))
      if ((m[1] ?? m[2]).toLowerCase() === 'remote_port')
        out.push({ path, why: `$remote_port: ${UWS_NO_REMOTE_PORT}` });
  // nginx's WebSocket recipe (proxy_set_header Upgrade $http_upgrade): tunnels asked for.
  for (const [i, s] of http.servers.entries())
    for (const [j, l] of s.locations.entries())
      for (const h of l.proxy.setHeaders)
        if (h.name.toLowerCase() === 'upgrade' && h.value !== '')
          out.push({
            path: `http.servers[${i}].locations[${j}].set_headers.${h.name}`,
            why: `proxy_set_header Upgrade: ${UWS_NO_TUNNEL}`,
          });
  for (const [i, s] of http.servers.entries())
    if (s.keepaliveTimeoutMs === 0)
      out.push({
        path: `http.servers[${i}].keepalive_timeout`,
        why: `keepalive_timeout 0: ${UWS_NO_KEEPALIVE_OFF}`,
      });
  return out;
}

/** The config's uws limits as issues, when it asks for the uws engine. */
export function uwsEngineIssues(http: HttpConfig): { path: string; message: string }[] {
  if (http.engine !== 'uws') return [];
  return uwsLimits(http).map((l) => ({
    path: l.path,
    message: `${l.why}; set http.engine to node or auto (which takes node:http for this config)`,
  }));
}
