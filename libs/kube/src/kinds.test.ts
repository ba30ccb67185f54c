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
