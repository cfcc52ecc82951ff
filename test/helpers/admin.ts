// Reading legate's admin server and stats port the way an operator's tools would: plain HTTP and
// plain TCP, independent of legate's own code.
import { request } from 'node:http';
import { connect } from 'node:net';
import type { PoolJson, ServerJson, StatsJson } from '../../engine/admin/admin-server.ts';

export type { PoolJson, ServerJson, StatsJson };

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** GET http://127.0.0.1:port/path. */
export function httpGet(port: number, path: string, method = 'GET'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body,
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function getStats(port: number): Promise<StatsJson> {
  const r = await httpGet(port, '/stats');
  if (r.status !== 200) throw new Error(`/stats answered ${r.status}: ${r.body}`);
  return JSON.parse(r.body) as StatsJson;
}

/**
 * Polls /stats until `ready` holds (workers report every `-i` ms, so numbers lag the requests),
 * then returns that document; throws with the last document after `timeoutMs`.
 */
export async function waitForStats(
  port: number,
  ready: (s: StatsJson) => boolean,
  what: string,
  timeoutMs = 8000,
): Promise<StatsJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await getStats(port);
    if (ready(s)) return s;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last /stats:\n${JSON.stringify(s, null, 1)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function poolOf(s: StatsJson, name: string): PoolJson {
  const p = s.pools.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no pool ${name} in /stats`);
  return p;
}

export function serverOf(p: PoolJson, name: string): ServerJson {
  const s = p.servers.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no server ${name} in pool ${p.name}`);
  return s;
}

/** Connects to a stats port and reads until the server closes: what `nc HOST PORT` prints. */
export function readStatsPort(port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`stats port ${port} did not close within ${timeoutMs} ms; got: ${text}`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      socket.end();
      resolve(text);
    });
  });
}

/** One sample of a Prometheus text page. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text page (comments skipped); enough for legate's own output. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample named `name` whose labels include `labels`. */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1)
    throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}, expected 1`);
  return found[0].value;
}
