/**
 * The xds-mtls overlay (mTLS on the xDS and access log ports): the xds-server's TENDRIL_XDS_TLS_* and
 * metrics' TENDRIL_ALS_TLS_* files come from mounted Secrets holding them; the node Envoy's bootstrap
 * clusters to both pass Envoy's own rules and read its certificate, key and CA from a Secret its
 * DaemonSet mounts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { validateResource } from '@tendril/envoy';
import { kubectlMissing, render, secretFile } from './render.js';

describe('xds-mtls overlay: TLS on the xDS port', { skip: kubectlMissing }, () => {
  const objects = render('k8s/overlays/xds-mtls');
  const workload = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;

  it('the xds-server serves mTLS with certificate, key and CA from its mounted Secret', () => {
    const server = workload('Deployment', 'xds-server');
    const env = server['spec'].template.spec.containers[0].env as { name: string; value?: string }[];
    for (const name of ['TENDRIL_XDS_TLS_CERT', 'TENDRIL_XDS_TLS_KEY', 'TENDRIL_XDS_TLS_CA']) {
      const path = env.find((e) => e.name === name)?.value;
      assert.ok(path, name);
      const file = secretFile(objects, server, path);
      assert.ok(file && file.key in file.secret['data'], `${name}=${path} comes from a mounted Secret that has it`);
    }
  });

  it('metrics serves the access log port with mTLS: certificate, key and CA from its mounted Secret', () => {
    const metrics = workload('Deployment', 'metrics');
    const env = metrics['spec'].template.spec.containers[0].env as { name: string; value?: string }[];
    for (const name of ['TENDRIL_ALS_TLS_CERT', 'TENDRIL_ALS_TLS_KEY', 'TENDRIL_ALS_TLS_CA']) {
      const path = env.find((e) => e.name === name)?.value;
      assert.ok(path, name);
      const file = secretFile(objects, metrics, path);
      assert.ok(file && file.key in file.secret['data'], `${name}=${path} comes from a mounted Secret that has it`);
    }
  });

  for (const [name, peer] of [['tendril-xds', 'xds-server'], ['tendril-als', 'metrics']] as const) {
    it(`the node Envoy's cluster to the ${peer} is valid for Envoy, checks its name and presents files from its mounted Secret`, () => {
      const envoy = workload('DaemonSet', 'envoy');
      const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('envoy-bootstrap'))!;
      const bootstrap = parse(configMap['data']['bootstrap.yaml']) as { static_resources: { clusters: Record<string, unknown>[] } };
      const cluster = bootstrap.static_resources.clusters.find((c) => c['name'] === name)!;
      assert.deepEqual(validateResource('cluster', cluster), []);
      const socket = JSON.stringify(cluster['transport_socket'] ?? null);
      assert.match(socket, new RegExp(`"exact":"${peer}\\.tendril-system\\.svc"`), 'the server certificate must name the service');
      const files = [...socket.matchAll(/"filename":"([^"]+)"/g)].map((match) => match[1]!);
      assert.equal(files.length, 3, 'certificate, key and CA');
      for (const path of files) {
        const file = secretFile(objects, envoy, path);
        assert.ok(file && file.key in file.secret['data'], `${path} comes from a Secret the Envoy DaemonSet mounts`);
      }
    });
  }
});
