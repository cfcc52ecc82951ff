// The balancers against the real nginx 1.22, on one nginx.conf that both read: nginx runs it
// (one worker, so its round robin is one sequence) over backends that answer their own name;
// legate reads the same file with its nginx dialect and builds its balancers from what it read.
// Each client address or key goes to nginx and to legate's balancer, and the backend nginx
// reached must be the one legate picks.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../engine/config/load.ts';
import type { LegateConfig } from '../../engine/config/types.ts';
import {
  allocateHttpPeers,
  HttpPeerHealth,
  peerOffsets,
} from '../../engine/shared/http-peers-memory.ts';
import { createBalancer } from '../../workers/http/balance/balancer.ts';
import { ipHashKey } from '../../workers/http/balance/client-key.ts';
import { PickState } from '../../workers/http/balance/peers.ts';
import { SplitClients } from '../../workers/http/balance/split-clients.ts';
import {
  getFrom,
  inBatches,
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

/** Upstream name → its method line and server lines, `{A}` standing for backend A's address. */
const UPSTREAMS: Readonly<Record<string, string>> = {
  iphash: 'ip_hash; server {A} weight=9; server {B} weight=1;',
  iphashdown: 'ip_hash; server {A}; server {B} down; server {C} weight=2;',
  hash: 'hash $request_uri; server {A} weight=5; server {B} weight=3; server {C} weight=2;',
  chash: 'hash $request_uri consistent; server {A} weight=2; server {B}; server {C};',
  chashdown: 'hash $request_uri consistent; server {A}; server {B} down; server {C};',
  rr91: 'server {A} weight=9; server {B} weight=1;',
  rr511: 'server {A} weight=5; server {B}; server {C};',
  rrdown: 'server {A} weight=3; server {B} down; server {C} weight=2; server {A};',
};

const SPLIT = '10% exp; 33.33% b; 0.5% tiny; * prod;';
const SPLIT_FULL = '90% prod; 10% exp;';

function nginxConf(port: number, backends: readonly NamedBackend[], echoPort: number): string {
  const address = (text: string) =>
    text.replace(
      /\{([A-C])\}/g,
      (_, n: string) => `127.0.0.1:${backends.find((b) => b.name === n)!.port}`,
    );
  const upstreams = Object.entries(UPSTREAMS).map(
    ([name, body]) => `  upstream ${name} { ${address(body)} }`,
  );
  const locations = Object.keys(UPSTREAMS).map(
    (name) => `    location /${name}/ { proxy_pass http://${name}; }`,
  );
  return `worker_processes 1;
events { worker_connections 512; }
http {
${nginxHttpPrelude()}
${upstreams.join('\n')}
  upstream echo { server 127.0.0.1:${echoPort}; }
  split_clients "\${arg_k}" $variant { ${SPLIT} }
  split_clients "\${arg_k}" $variant_full { ${SPLIT_FULL} }
  server {
    listen 127.0.0.1:${port};
${locations.join('\n')}
    location = /split { proxy_set_header X-Variant "[$variant]"; proxy_pass http://echo; }
    location = /split-full { proxy_set_header X-Variant "[$variant_full]"; proxy_pass http://echo; }
  }
}
`;
}

describe('balancers against the real nginx 1.22, on the nginx.conf both read', () => {
  let backends: NamedBackend[];
  let echo: Server;
  let nginx: NginxProcess;
  let port: number;
  let config: LegateConfig;

  before(async () => {
    backends = await startNamedBackends(['A', 'B', 'C']);
    const echoPort = await freePort();
    echo = createServer((req, res) => res.end(String(req.headers['x-variant'] ?? '(none)')));
    await new Promise<void>((resolve) => echo.listen(echoPort, '127.0.0.1', resolve));
    port = await freePort();
    nginx = await startNginx(nginxConf(port, backends, echoPort), port);
    config = loadConfig(join(nginx.dir, 'nginx.conf'), {});
  });

  after(async () => {
    await nginx?.stop();
    await stopBackends(backends ?? []);
    await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
  });

  it('legate reads that nginx.conf: workers 1, the temp paths and access_log warned', () => {
    assert.equal(config.dialect, 'nginx');
    assert.equal(config.workers, 1);
    assert.deepEqual(config.warnings.map((w) => w.path).sort(), [
      'access_log',
      'client_body_temp_path',
      'fastcgi_temp_path',
      'proxy_temp_path',
      'scgi_temp_path',
      'uwsgi_temp_path',
      'worker_connections',
    ]);
  });

  /** The backend legate's balancer (built from the parsed config) picks for a fresh request. */
  function pickerFor(name: string): (key: Uint8Array) => string {
    const { offsets, total } = peerOffsets(config.http.upstreams);
    const index = config.http.upstreams.findIndex((u) => u.name === name);
    const upstream = config.http.upstreams[index];
    const health = new HttpPeerHealth(allocateHttpPeers(total, 1));
    const b = createBalancer(upstream, health, offsets[index]);
    const state = new PickState(b.peers.count);
    const now = b.peers.now();
    return (key) => {
      b.begin(state, key, -1);
      const peer = b.pick(state, now);
      b.peers.release(peer, false, now);
      const port = Number(b.peers.specs[peer].name.split(':')[1]);
      return backends.find((x) => x.port === port)!.name;
    };
  }

  async function compareIpHash(upstream: string, prefixes: readonly string[]): Promise<void> {
    const pick = pickerFor(upstream);
    const seen = await inBatches(prefixes.length, 16, (i) =>
      getFrom(port, `/${upstream}/x`, `${prefixes[i]}.${1 + (i % 250)}`),
    );
    const mismatches: string[] = [];
    prefixes.forEach((prefix, i) => {
      const want = pick(ipHashKey(`${prefix}.1`));
      if (seen[i].body !== want)
        mismatches.push(`${prefix}.x: nginx ${seen[i].body}, legate ${want}`);
    });
    assert.deepEqual(mismatches, [], `${mismatches.length} of ${prefixes.length} differ`);
    assert.ok(new Set(seen.map((s) => s.body)).size >= 2, 'more than one variant reached');
  }

  /** ≥ 256 distinct /24s on 127/8: a walk over 127.1.0–199 plus random ones, and the facts' vectors. */
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
    assert.ok(new Set(seen.map((s) => s.body)).size >= 2);
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
    const [split, full] = config.http.splitClients.map((s) => SplitClients.fromConfig(s));
    const keys = Array.from({ length: 1500 }, (_, i) => `client-${i}-${(i * 2654435761) >>> 0}`);
    const seen = await inBatches(keys.length, 20, (i) => getFrom(port, `/split?k=${keys[i]}`));
    const seenFull = await inBatches(keys.length, 20, (i) =>
      getFrom(port, `/split-full?k=${keys[i]}`),
    );
    const mismatches: string[] = [];
    keys.forEach((k, i) => {
      const want = `[${split.value(enc.encode(k))}]`;
      const wantFull = `[${full.value(enc.encode(k))}]`;
      if (seen[i].body !== want) mismatches.push(`${k}: nginx ${seen[i].body}, legate ${want}`);
      if (seenFull[i].body !== wantFull)
        mismatches.push(`${k}: nginx ${seenFull[i].body}, legate ${wantFull}`);
    });
    assert.deepEqual(mismatches, []);
    assert.deepEqual(
      new Set(seen.map((s) => s.body)),
      new Set(['[exp]', '[b]', '[tiny]', '[prod]']),
    );
  });
});
