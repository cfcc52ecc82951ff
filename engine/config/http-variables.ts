/**
 * The nginx variables legate evaluates (workers/http/variables.ts computes them), so a config
 * that names another is refused when it is read (`legate -t` too), not when a worker starts.
 */
import type { HttpConfig } from './http-types.ts';

export const NGINX_VARIABLES = [
  'remote_addr',
  'binary_remote_addr',
  'remote_port',
  'proxy_add_x_forwarded_for',
  'host',
  'request_uri',
  'request_method',
  'args',
  'scheme',
  'proxy_host',
  'server_port',
] as const;
export type NginxVariable = (typeof NGINX_VARIABLES)[number];

/** `$name` or `${name}` in a value. */
export const VARIABLE_PATTERN = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;

/** Whether `name` (lower case, no `$`) is a variable legate can evaluate, given the config's own (split_clients). */
export function knownVariable(name: string, defined: ReadonlySet<string>): boolean {
  return (
    name.startsWith('http_') ||
    name.startsWith('cookie_') ||
    name.startsWith('arg_') ||
    (NGINX_VARIABLES as readonly string[]).includes(name) ||
    defined.has(name)
  );
}

function unknownIn(text: string, defined: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(VARIABLE_PATTERN)) {
    const name = (m[1] ?? m[2]).toLowerCase();
    if (!knownVariable(name, defined)) out.push(`$${name}`);
  }
  return out;
}

/** Every text of the config that nginx variables are evaluated in, with its path for messages. */
export function variableTexts(http: HttpConfig): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const s of http.splitClients)
    out.push({ path: `http.split_clients.${s.variable}`, text: s.source });
  for (const u of http.upstreams)
    if (u.hashKey !== null)
      out.push({ path: `http.upstreams.${u.name}.hash_key`, text: u.hashKey });
  for (const [i, b] of http.servers.entries())
    for (const [j, l] of b.locations.entries())
      for (const h of l.proxy.setHeaders)
        out.push({
          path: `http.servers[${i}].locations[${j}].set_headers.${h.name}`,
          text: h.value,
        });
  return out;
}

/** Every hash key, proxy_set_header value and split_clients source naming an unknown variable. */
export function httpVariableIssues(http: HttpConfig): { path: string; message: string }[] {
  const defined = new Set(
    http.splitClients.map((s) => s.variable.replace(/^\$/, '').toLowerCase()),
  );
  const issues: { path: string; message: string }[] = [];
  for (const { path, text } of variableTexts(http))
    for (const name of unknownIn(text, defined))
      issues.push({
        path,
        message: `unknown variable ${name} in "${text}" (legate evaluates $${NGINX_VARIABLES.join(', $')}, $http_NAME, $cookie_NAME, $arg_NAME and split_clients variables)`,
      });
  return issues;
}
