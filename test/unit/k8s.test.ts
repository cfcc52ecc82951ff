// deploy/k8s: the seed's pods with legate in place of each anchor. Every object is checked against
// the Kubernetes API's schemas (kubernetes-models), and every ConfigMap legate reads passes
// `legate -t` where the pod mounts it, with ports and paths that agree with the pod.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigMap, Pod } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../engine/config/load.ts';
import type { LegateConfig } from '../../engine/config/types.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const DIR = `${ROOT}deploy/k8s/`;
const IMAGE_PATHS = (
  /^ENV LEGATE_CONFIG_PATHS=(\S+)/m.exec(readFileSync(`${ROOT}Dockerfile`, 'utf8'))?.[1] ?? ''
).split(':');

type Manifest = { kind: string; metadata: { name: string } } & Record<string, unknown>;

function manifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(DIR + file, 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${file}: ${d.errors.join('; ')}`);
    return d.toJS() as Manifest;
  });
}

/** Every port legate listens on, per role. */
function listenPorts(config: LegateConfig): number[] {
  const addresses = [
    ...config.redis.map((p) => p.listen),
    ...config.tcp.services.flatMap((s) => s.listen),
    ...config.http.servers.flatMap((s) => s.listen),
  ];
  return addresses.flatMap((a) => (a.kind === 'tcp' ? [a.port] : []));
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

describe('deploy/k8s', () => {
  it('holds the seed pods', () => {
    assert.ok(files.includes('redis-shard.yaml'));
  });

  for (const file of files) {
    it(`${file}: valid against the Kubernetes schemas; its config passes legate -t where it is mounted`, () => {
      const objects = manifests(file);
      const maps = new Map<string, ConfigMap>();
      const pods: Pod[] = [];
      for (const o of objects) {
        if (o.kind === 'ConfigMap') maps.set(o.metadata.name, new ConfigMap(o as never));
        else if (o.kind === 'Pod') pods.push(new Pod(o as never));
        else assert.fail(`${file}: unexpected kind ${o.kind}`);
      }
      for (const m of maps.values()) m.validate();
      assert.equal(pods.length, 1, 'one pod per file, as in the seed');
      const pod = pods[0];
      pod.validate();
      const ambassador = pod.spec?.containers.find((c) => c.image?.startsWith('legate:'));
      assert.ok(ambassador, 'a legate container');
      // Probes, limits and a locked-down security context, as a sidecar should have.
      assert.match(JSON.stringify(ambassador.readinessProbe), /\/readyz/);
      assert.match(JSON.stringify(ambassador.livenessProbe), /\/healthz/);
      assert.ok(ambassador.resources?.limits?.cpu && ambassador.resources?.limits?.memory);
      assert.equal(ambassador.securityContext?.runAsNonRoot, true);
      assert.equal(ambassador.securityContext?.readOnlyRootFilesystem, true);
      // The mounted ConfigMap's file is one the image looks for, and it passes legate -t.
      const mounts = ambassador.volumeMounts ?? [];
      let found = false;
      for (const mount of mounts) {
        const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
        const map = volume?.configMap?.name ? maps.get(volume.configMap.name) : undefined;
        if (!map?.data) continue;
        for (const [key, text] of Object.entries(map.data)) {
          const path = `${mount.mountPath}/${key}`;
          if (!IMAGE_PATHS.includes(path)) continue;
          found = true;
          // Read as the container would: with its environment (APP_ENV: prod picks the prod backend).
          const env = Object.fromEntries(
            (ambassador.env ?? []).map((e) => [e.name, e.value ?? '']),
          );
          const config = parseConfig(text, `${file}:${map.metadata?.name}/${key}`, env);
          // The same file the compose pods mount (deploy/pods/), so the two never drift apart.
          const pod = file.replace(/\.yaml$/, '');
          assert.equal(
            text,
            readFileSync(`${ROOT}deploy/pods/${pod}/${key.replace(/\.yaml$/, '.yml')}`, 'utf8'),
          );
          const declared = (ambassador.ports ?? []).map((p) => p.containerPort).sort();
          assert.deepEqual(
            listenPorts(config).sort(),
            declared,
            'containerPorts are the ports legate listens on',
          );
        }
      }
      assert.ok(
        found,
        `a ConfigMap mounted at a path of LEGATE_CONFIG_PATHS (${IMAGE_PATHS.join(', ')})`,
      );
    });
  }

  it('the schemas are really checked: a wrong type is refused', () => {
    const [, pod] = manifests('redis-shard.yaml');
    const broken = structuredClone(pod) as unknown as {
      spec: { containers: { ports?: unknown[] }[] };
    };
    broken.spec.containers[1].ports = [{ containerPort: 'six' }];
    assert.throws(() => new Pod(broken as never).validate(), /containerPort must be integer/);
  });
});
