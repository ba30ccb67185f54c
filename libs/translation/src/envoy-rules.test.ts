// Envoy's own rules: every resource in every golden output passes the protoc-gen-validate rules of
// Envoy's protos (as shipped by @grpc/grpc-js-xds), and encodes to protobuf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { encodeResource, validateResource } from '@tendril/envoy';
import { translate } from './index.js';
import { TEST_CLUSTER, goldenCases, manifestObjects } from './testing/golden.js';

const testdata = fileURLToPath(new URL('../testdata/', import.meta.url));

for (const golden of goldenCases(testdata)) {
  test(`Envoy accepts every resource of ${golden.name}`, () => {
    const output = translate({ cluster: TEST_CLUSTER, objects: manifestObjects(golden.input) });
    const problems: string[] = [];
    for (const { type, name, resource } of output.xds) {
      for (const problem of validateResource(type, resource)) problems.push(`${type} ${name}: ${problem}`);
      if (problems.length === 0) encodeResource(type, resource);
    }
    assert.deepEqual(problems, []);
  });
}
