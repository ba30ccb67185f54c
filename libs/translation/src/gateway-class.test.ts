import assert from 'node:assert/strict';
import { test } from 'node:test';
import { translate } from './index.js';
import { TEST_CLUSTER, manifestObjects, withOwnedObjects } from './testing/golden.js';

const GATEWAY = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: cilium
  listeners: [{ name: http, port: 80, protocol: HTTP }]
`;
const CLASS = (controllerName: string) => `
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: cilium }
spec: { controllerName: ${controllerName} }
`;

const run = (text: string, gatewayClassAssumed: boolean) => {
  // one round trip: the owned Services in the cluster with their LB addresses, as the watcher leaves them
  const objects = withOwnedObjects(TEST_CLUSTER, manifestObjects(text), { gatewayClassAssumed });
  const output = translate({ cluster: TEST_CLUSTER, objects, options: { gatewayClassAssumed } });
  return {
    gateway: output.statuses.find((entry) => entry.status.kind === 'Gateway'),
    gatewayClass: output.statuses.find((entry) => entry.status.kind === 'GatewayClass'),
    lb: output.lb.filter((entry) => entry.name.includes('cilium-gateway-gw')),
  };
};

test('standalone assumes the GatewayClass cilium when none exists; a cluster serves a Gateway only when its class exists and is ours', () => {
  const assumed = run(GATEWAY, true);
  assert.ok(assumed.gateway, 'assumed class: the Gateway is ours');
  assert.equal(assumed.lb.length, 1);

  const absent = run(GATEWAY, false);
  assert.equal(absent.gateway, undefined, 'no class installed: not ours, no status');
  assert.equal(absent.lb.length, 0, 'and not served');

  const installed = run(GATEWAY + CLASS('io.cilium/gateway-controller'), false);
  assert.ok(installed.gateway);
  assert.equal(installed.lb.length, 1);
  const conditions = (installed.gatewayClass!.status.status as { conditions: { type: string; status: string }[] }).conditions;
  assert.deepEqual(conditions.find((c) => c.type === 'Accepted')?.status, 'True', 'the class gets its Accepted status');

  const another = run(GATEWAY + CLASS('example.com/other'), false);
  assert.equal(another.gateway, undefined, "another controller's class: not ours");
  assert.equal(another.gatewayClass, undefined, 'nor its status');
});
