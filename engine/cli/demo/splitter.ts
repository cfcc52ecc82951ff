import { createServer } from 'node:http';
import { type LocalServer, serveOnLoopback } from './local-server.ts';
import { type ConfigPart, type Pod, startAll } from './pod.ts';
import type { ChosenPort } from './ports.ts';

export const SPLITTER_TITLE = 'A/B splitter (nginx)';

/** The seed's two variants and their weights (nginx.conf: `server web-prod:80 weight=9; server web-experiment:80 weight=1;`). */
export const VARIANTS = [
  { name: 'web-prod', weight: 9 },
  { name: 'web-experiment', weight: 1 },
] as const;

/** A web variant: answers every request with its name (body and `x-variant`). */
export function startVariant(name: string): Promise<LocalServer> {
  const body = `${name}\n`;
  return serveOnLoopback(
    createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-variant': name });
      res.end(body);
    }),
  );
}

/** The seed's nginx.conf (ip_hash, 9:1 over the variants), X-Forwarded-For trusted from loopback. */
export function splitterPart(port: number, variantPorts: readonly number[]): ConfigPart {
  return {
    http: {
      upstreams: {
        backend: {
          balancer: 'ip_hash',
          servers: VARIANTS.map((v, i) => ({
            address: `127.0.0.1:${variantPorts[i]}`,
            weight: v.weight,
          })),
        },
      },
      servers: [
        {
          listen: `127.0.0.1:${port}`,
          real_ip: { trusted: ['127.0.0.1'], header: 'X-Forwarded-For' },
          locations: [{ path: '/', upstream: 'backend' }],
        },
      ],
    },
  };
}

/**
 * The seed's nginx pod: the A/B splitter (ip_hash, 9:1) in front of two variants. Every local
 * client is 127.0.0.1, one /24 for ip_hash, so all stick to one variant; X-Forwarded-For from
 * loopback is trusted (real_ip) so a person can play clients from other networks.
 */
export async function startSplitterPod(listen: ChosenPort): Promise<Pod> {
  const servers = await startAll(VARIANTS.map((v) => () => startVariant(v.name)));
  const p = listen.port;
  const url = p === 80 ? 'localhost' : `localhost:${p}`;
  return {
    title: SPLITTER_TITLE,
    port: p,
    config: splitterPart(
      p,
      servers.map((s) => s.port),
    ),
    notes: [
      ...(listen.note === null ? [] : [listen.note]),
      `variants: ${VARIANTS.map((v, i) => `${v.name} (weight ${v.weight}) on 127.0.0.1:${servers[i].port}`).join(', ')}; ip_hash, so a client network sticks to one`,
    ],
    tryIt: [
      `curl -s ${url}/            (the same variant every time: ip_hash on your /24)`,
      `for n in $(seq 20); do curl -s -H "X-Forwarded-For: 10.0.$n.1" ${url}/; done | sort | uniq -c`,
    ],
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
