import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests } from './manifests.js';

test("the seed's CiliumClusterEnvoyConfig is read as a CiliumClusterwideEnvoyConfig, cluster-scoped, kind kept", () => {
  const text = ['CiliumClusterEnvoyConfig', 'CiliumClusterwideEnvoyConfig']
    .map((kind, i) => `apiVersion: cilium.io/v2\nkind: ${kind}\nmetadata: { name: config-${i}, namespace: ignored }\nspec: { resources: [] }\n`)
    .join('---\n');
  const parsed = parseManifests(text, 'configs.yaml', 'c1');
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(
    parsed.objects.map(({ key, object }) => [key, object.kind]),
    [
      ['c1.ciliumclusterwideenvoyconfig._.config-0', 'CiliumClusterEnvoyConfig'],
      ['c1.ciliumclusterwideenvoyconfig._.config-1', 'CiliumClusterwideEnvoyConfig'],
    ],
  );
});

test('ConfigMaps are mirrored only when they hold ca.crt; the others are skipped, and their fields are still checked strictly', () => {
  const text = [
    'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: client-ca, namespace: infra }\ndata: { ca.crt: "-----BEGIN CERTIFICATE-----" }\n',
    'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: binary-ca, namespace: infra }\nbinaryData: { ca.crt: "LS0tLS1CRUdJTg==" }\nimmutable: true\n',
    'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: coredns, namespace: infra }\ndata: { Corefile: ".:53 {}" }\n',
    'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: typo, namespace: infra }\ndatas: { ca.crt: x }\n',
    'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: not-base64, namespace: infra }\nbinaryData: { ca.crt: "%%%" }\n',
  ].join('---\n');
  const parsed = parseManifests(text, 'cms.yaml', 'c1');
  assert.deepEqual(parsed.objects.map(({ key }) => key), ['c1.configmap.infra.client-ca', 'c1.configmap.infra.binary-ca']);
  assert.equal(parsed.skipped, 1);
  assert.deepEqual(
    parsed.errors.map((error) => [error.object, error.message]),
    [
      ['infra/ConfigMap/typo', 'datas: unknown field'],
      ['infra/ConfigMap/not-base64', 'binaryData.ca.crt: must be base64'],
    ],
  );
});
