import { test } from 'node:test';
import assert from 'node:assert/strict';
import { objectKey, type KubeObject } from '@tendril/contract';
import { translate } from '../index.js';

const C = 'c1';
const service = (spec: Record<string, unknown>, status: Record<string, unknown> = {}): [string, KubeObject] => [
  objectKey({ cluster: C, kind: 'service', name: 'web', namespace: 'shop' }),
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '127.96.0.5', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }], ...spec }, status },
];
const entry = (objects: [string, KubeObject][]) => translate({ cluster: C, objects }).lb.find((item) => item.name === 'web')!;

test('a LoadBalancer Service with externalTrafficPolicy Local carries the policy and its health check node port into tendril-lb', () => {
  const lb = entry([service({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32001, externalIPs: ['198.18.9.9'] }, { loadBalancer: { ingress: [{ ip: '198.18.8.8' }] } })]);
  assert.equal(lb.externalTrafficPolicy, 'Local');
  assert.equal(lb.healthCheckNodePort, 32001);
  assert.deepEqual(
    lb.frontends.map((frontend) => `${frontend.scope} ${frontend.address}:${frontend.port}`),
    ['ClusterIP 127.96.0.5:80', 'ExternalIP 198.18.9.9:80', 'LoadBalancer 198.18.8.8:80', 'NodePort 0.0.0.0:30080'],
  );
});

test('Cluster (or no policy) leaves the entry as before; a ClusterIP Service ignores the policy; a bad value is reported', () => {
  assert.equal(entry([service({ type: 'NodePort' })]).externalTrafficPolicy, undefined);
  assert.equal(entry([service({ type: 'NodePort', externalTrafficPolicy: 'Cluster' })]).externalTrafficPolicy, undefined);
  const nodePortLocal = entry([service({ type: 'NodePort', externalTrafficPolicy: 'Local' })]);
  assert.equal(nodePortLocal.externalTrafficPolicy, 'Local');
  assert.equal(nodePortLocal.healthCheckNodePort, undefined, 'only LoadBalancer Services have a health check node port');
  assert.equal(entry([service({ externalTrafficPolicy: 'Local' })]).externalTrafficPolicy, undefined);
  const output = translate({ cluster: C, objects: [service({ type: 'NodePort', externalTrafficPolicy: 'Sometimes' })] });
  assert.equal(output.lb.find((item) => item.name === 'web')!.externalTrafficPolicy, undefined);
  assert.match(JSON.stringify(output.errors), /spec\.externalTrafficPolicy/);
});
