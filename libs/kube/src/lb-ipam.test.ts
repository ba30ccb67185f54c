import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignLoadBalancerIPs, lbIpamRequest } from './lb-ipam.js';

test('LB-IPAM keeps assigned addresses, honours requests, and picks the same addresses on every run', () => {
  const picks = assignLoadBalancerIPs([{ id: 'a/x', pool: '198.18.7.0/24' }, { id: 'b/y', pool: '198.18.7.0/24' }]);
  assert.deepEqual(assignLoadBalancerIPs([{ id: 'b/y', pool: '198.18.7.0/24' }, { id: 'a/x', pool: '198.18.7.0/24' }]), picks);
  const kept = assignLoadBalancerIPs([{ id: 'a/x', pool: '198.18.7.0/24', current: '198.18.7.200' }]);
  assert.equal(kept.get('a/x'), '198.18.7.200');
  const requested = assignLoadBalancerIPs([{ id: 'a/x', pool: '198.18.7.0/24', requested: ['198.18.7.9'] }, { id: 'b/y', pool: '198.18.7.0/24', current: '198.18.7.9' }]);
  assert.equal(requested.get('a/x'), '198.18.7.9');
  assert.notEqual(requested.get('b/y'), '198.18.7.9', 'a request beats a kept address');
  assert.equal(assignLoadBalancerIPs([{ id: 'a/x', pool: '198.18.7.0/24', requested: ['198.18.9.9'] }]).get('a/x'), undefined, 'outside the pool: nothing');
});

test('the LB-IPAM request of a Service: LoadBalancer only, its current address and what it asks for', () => {
  const service = { metadata: { name: 'gw', namespace: 'infra', annotations: { 'lbipam.cilium.io/ips': '198.18.7.9, 198.18.7.10' } }, spec: { type: 'LoadBalancer' }, status: { loadBalancer: { ingress: [{ ip: '198.18.7.3' }] } } };
  assert.deepEqual(lbIpamRequest(service, '198.18.7.0/24'), { id: 'infra/gw', pool: '198.18.7.0/24', current: '198.18.7.3', requested: ['198.18.7.9', '198.18.7.10'] });
  assert.equal(lbIpamRequest({ metadata: { name: 'x' }, spec: { type: 'NodePort' } }, '198.18.7.0/24'), undefined);
});
