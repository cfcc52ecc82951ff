// The balancers against the real nginx 1.22: one nginx (one worker, so its round robin is one
// sequence) with an upstream per algorithm over named backends; each client address or key goes
// to nginx and to legate's balancer, and the backend nginx reached must be the one legate picks.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HttpBalancer } from '../../engine/config/http-types.ts';
import { ipHashKey } from '../../workers/http/balance/client-key.ts';
import { PickState } from '../../workers/http/balance/peers.ts';
import { parsePercent, SplitClients } from '../../workers/http/balance/split-clients.ts';
import { balancerOf, type ServerLine } from '../helpers/http-peers.ts';
import {
  getFrom,
  type NamedBackend,
  type NginxProcess,
  nginxHttpPrelude,
  startNamedBackends,
  startNginx,
  stopBackends,
} from '../helpers/nginx.ts';
import { below, prng } from '../helpers/prng.ts';
import { freePort } from '../helpers/processes.ts';

const enc = new TextEncoder();

interface Upstream {
  readonly name: string;
  readonly balancer: HttpBalancer;
  /** The directive line nginx gets (`ip_hash;`), '' for round robin. */
  readonly method: string;
  /** Backend index and parameters per server line. */
  readonly servers: readonly { readonly backend: number; readonly params: string }[];
}

const UPSTREAMS: readonly Upstream[] = [
  {
    name: 'iphash',
    balancer: 'ip_hash',
    method: 'ip_hash;',
    servers: [
      { backend: 0, params: 'weight=9' },
      { backend: 1, params: 'weight=1' },
    ],
  },
  {
    name: 'iphashdown',
    balancer: 'ip_hash',
    method: 'ip_hash;',
    servers: [
      { backend: 0, params: '' },
      { backend: 1, params: 'down' },
      { backend: 2, params: 'weight=2' },
    ],
  },
  {
    name: 'hash',
    balancer: 'hash',
    method: 'hash $request_uri;',
    servers: [
      { backend: 0, params: 'weight=5' },
      { backend: 1, params: 'weight=3' },
      { backend: 2, params: 'weight=2' },
    ],
  },
  {
    name: 'chash',
    balancer: 'hash_consistent',
    method: 'hash $request_uri consistent;',
    servers: [
      { backend: 0, params: 'weight=2' },
      { backend: 1, params: '' },
      { backend: 2, params: '' },
    ],
  },
  {
    name: 'chashdown',
    balancer: 'hash_consistent',
    method: 'hash $request_uri consistent;',
    servers: [
      { backend: 0, params: '' },
      { backend: 1, params: 'down' },
      { backend: 2, params: '' },
    ],
  },
  {
    name: 'rr91',
    balancer: 'round_robin',
    method: '',
    servers: [
      { backend: 0, params: 'weight=9' },
      { backend: 1, params: 'weight=1' },
    ],
  },
  {
    name: 'rr511',
    balancer: 'round_robin',
    method: '',
    servers: [
      { backend: 0, params: 'weight=5' },
      { backend: 1, params: '' },
      { backend: 2, params: '' },
    ],
  },
  {
    name: 'rrdown',
    balancer: 'round_robin',
    method: '',
    servers: [
      { backend: 0, params: 'weight=3' },
      { backend: 1, params: 'down' },
      { backend: 2, params: 'weight=2' },
      { backend: 0, params: '' },
    ],
  },
];

const SPLIT = '10% exp; 33.33% b; 0.5% tiny; * prod;';
const SPLIT_FULL = '90% prod; 10% exp;';

function serverLines(u: Upstream, backends: readonly NamedBackend[]): ServerLine[] {
  return u.servers.map((s) => {
    const weight = /weight=(\d+)/.exec(s.params);
    return {
      name: `127.0.0.1:${backends[s.backend].port}`,
      weight: weight ? Number(weight[1]) : 1,
      down: s.params.includes('down'),
    };
  });
}

function nginxConf(port: number, backends: readonly NamedBackend[]): string {
  const upstreams = UPSTREAMS.map(
    (u) =>
      `upstream ${u.name} {\n  ${u.method}\n${u.servers
        .map((s) => `  server 127.0.0.1:${backends[s.backend].port} ${s.params};`)
        .join('\n')}\n}`,
  );
  const locations = UPSTREAMS.map((u) => `location /${u.name}/ { proxy_pass http://${u.name}; }`);
  return `worker_processes 1;
events { worker_connections 512; }
http {
${nginxHttpPrelude()}
${upstreams.join('\n')}
split_clients "\${arg_k}" $variant { ${SPLIT} }
split_clients "\${arg_k}" $variant_full { ${SPLIT_FULL} }
server {
  listen 127.0.0.1:${port};
  ${locations.join('\n  ')}
  location = /split { return 200 "$variant"; }
  location = /split-full { return 200 "[$variant_full]"; }
}
}
`;
}

/** Runs `count` async jobs, `width` at a time, in order of index. */
async function inBatches<T>(
  count: number,
  width: number,
  job: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += width) {
    const batch = Array.from({ length: Math.min(width, count - i) }, (_, k) => job(i + k));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

function splitOf(text: string): SplitClients {
  return new SplitClients(
    text
      .split(';')
      .map((p) => p.trim())
      .filter((p) => p !== '')
      .map((p) => {
        const [percent, value] = p.split(/\s+/);
        return { hundredths: percent === '*' ? null : parsePercent(percent), value };
      }),
  );
}

describe('balancers against the real nginx 1.22', () => {
  let backends: NamedBackend[];
  let nginx: NginxProcess;
  let port: number;

  before(async () => {
    backends = await startNamedBackends(['A', 'B', 'C']);
    port = await freePort();
    nginx = await startNginx(nginxConf(port, backends), port);
  });

  after(async () => {
    await nginx?.stop();
    await stopBackends(backends ?? []);
  });

  /** The backend legate's balancer picks for a fresh request with this key. */
  function pickerFor(name: string): (key: Uint8Array) => string {
    const u = UPSTREAMS.find((x) => x.name === name)!;
    const b = balancerOf(u.balancer, serverLines(u, backends), { hashKey: '$request_uri' });
    const state = new PickState(b.peers.count);
    return (key) => {
      b.begin(state, key, -1);
      const peer = b.pick(state, 0);
      b.peers.release(peer, false, 0);
      return backends[u.servers[peer].backend].name;
    };
  }

  async function compareIpHash(upstream: string, prefixes: readonly string[]): Promise<void> {
    const pick = pickerFor(upstream);
    const seen = await inBatches(prefixes.length, 16, (i) =>
      getFrom(port, `/${upstream}/x`, `${prefixes[i]}.${1 + (i % 250)}`),
    );
    const mismatches: string[] = [];
    const counts = new Map<string, number>();
    prefixes.forEach((prefix, i) => {
      const want = pick(ipHashKey(`${prefix}.1`));
      counts.set(seen[i].body, (counts.get(seen[i].body) ?? 0) + 1);
      if (seen[i].body !== want)
        mismatches.push(`${prefix}.x: nginx ${seen[i].body}, legate ${want}`);
    });
    assert.deepEqual(mismatches, [], `${mismatches.length} of ${prefixes.length} differ`);
    assert.ok(counts.size >= 2, `more than one variant reached: ${[...counts]}`);
  }

  /** ≥ 256 distinct /24s on 127/8: a whole /16 walk plus random ones, 127.0.0 and 127.0.9 among them. */
  function prefixes(count: number): string[] {
    const out = new Set<string>(['127.0.0', '127.0.9', '127.0.4']);
    for (let c = 0; c < 200; c++) out.add(`127.1.${c}`);
    const random = prng(11);
    while (out.size < count) out.add(`127.${below(random, 256)}.${below(random, 256)}`);
    return [...out];
  }

  it('ip_hash 9:1: every /24 reaches the variant legate picks', async () => {
    await compareIpHash('iphash', prefixes(300));
  });

  it('ip_hash with a down server', async () => {
    await compareIpHash('iphashdown', prefixes(260));
  });

  async function compareKeys(upstream: string, count: number): Promise<void> {
    const pick = pickerFor(upstream);
    const paths = Array.from({ length: count }, (_, i) => `/${upstream}/key-${i}?v=${i * 7}`);
    const seen = await inBatches(count, 16, (i) => getFrom(port, paths[i]));
    const mismatches: string[] = [];
    paths.forEach((path, i) => {
      const want = pick(enc.encode(path));
      if (seen[i].body !== want) mismatches.push(`${path}: nginx ${seen[i].body}, legate ${want}`);
    });
    assert.deepEqual(mismatches, [], `${mismatches.length} of ${count} differ`);
    assert.equal(new Set(seen.map((s) => s.body)).size >= 2, true);
  }

  it('hash $request_uri over 320 keys', async () => {
    await compareKeys('hash', 320);
  });

  it('hash $request_uri consistent over 320 keys', async () => {
    await compareKeys('chash', 320);
  });

  it('hash consistent with a down server', async () => {
    await compareKeys('chashdown', 300);
  });

  async function compareSequence(upstream: string, count: number): Promise<string> {
    const pick = pickerFor(upstream);
    let nginxSeq = '';
    let legateSeq = '';
    for (let i = 0; i < count; i++) {
      nginxSeq += (await getFrom(port, `/${upstream}/`)).body;
      legateSeq += pick(new Uint8Array(0));
    }
    assert.equal(legateSeq, nginxSeq);
    return nginxSeq;
  }

  it('round robin 9:1 gives AAAAABAAAA, as nginx', async () => {
    assert.equal(await compareSequence('rr91', 30), 'AAAAABAAAA'.repeat(3));
  });

  it('round robin 5:1:1 gives AABACAA, as nginx', async () => {
    assert.equal(await compareSequence('rr511', 21), 'AABACAA'.repeat(3));
  });

  it('round robin with a down server and a backend listed twice', async () => {
    const seq = await compareSequence('rrdown', 24);
    assert.ok(!seq.includes('B'));
  });

  it('split_clients over 1500 keys, with * and with parts adding up to 100%', async () => {
    const split = splitOf(SPLIT);
    const full = splitOf(SPLIT_FULL);
    const keys = Array.from({ length: 1500 }, (_, i) => `client-${i}-${(i * 2654435761) >>> 0}`);
    const seen = await inBatches(keys.length, 20, (i) => getFrom(port, `/split?k=${keys[i]}`));
    const seenFull = await inBatches(keys.length, 20, (i) =>
      getFrom(port, `/split-full?k=${keys[i]}`),
    );
    const mismatches: string[] = [];
    keys.forEach((k, i) => {
      const want = split.value(enc.encode(k));
      const wantFull = `[${full.value(enc.encode(k))}]`;
      if (seen[i].body !== want) mismatches.push(`${k}: nginx ${seen[i].body}, legate ${want}`);
      if (seenFull[i].body !== wantFull)
        mismatches.push(`${k}: nginx ${seenFull[i].body}, legate ${wantFull}`);
    });
    assert.deepEqual(mismatches, []);
    assert.deepEqual(new Set(seen.map((s) => s.body)), new Set(['exp', 'b', 'tiny', 'prod']));
  });
});
