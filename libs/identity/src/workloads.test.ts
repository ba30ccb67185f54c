import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { workloadIdentities, spiffeId, parseSpiffeId } from './index.js';

describe('SPIFFE IDs', () => {
  it('name a service account in a trust domain, and parse back', () => {
    const id = spiffeId({ trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'frontend' });
    assert.equal(id, 'spiffe://cluster.local/ns/shop/sa/frontend');
    assert.deepEqual(parseSpiffeId(id), { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'frontend' });
    assert.equal(parseSpiffeId('spiffe://cluster.local/ns/shop'), undefined);
    assert.equal(parseSpiffeId('spiffe://Cluster.Local/ns/shop/sa/frontend'), undefined);
    assert.throws(() => spiffeId({ trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'Front_End' }), /shop\/ServiceAccount\/Front_End/);
    assert.throws(() => spiffeId({ trustDomain: 'a/b', namespace: 'shop', serviceAccount: 'frontend' }), /trust domain "a\/b"/);
  });
});

describe('workload identities from Pods', () => {
  it('one per service account with running Pods, placed on the nodes that run them', () => {
    const { identities, errors } = workloadIdentities(
      [
        { namespace: 'shop', name: 'web-1', serviceAccountName: 'frontend', nodeName: 'node-b', phase: 'Running' },
        { namespace: 'shop', name: 'web-2', serviceAccountName: 'frontend', nodeName: 'node-a', phase: 'Running' },
        { namespace: 'shop', name: 'web-3', serviceAccountName: 'frontend', nodeName: 'node-a', phase: 'Running' },
        { namespace: 'shop', name: 'db-0', nodeName: 'node-c' },
        { namespace: 'shop', name: 'pending', serviceAccountName: 'batch' },
        { namespace: 'shop', name: 'done', serviceAccountName: 'batch', nodeName: 'node-a', phase: 'Succeeded' },
        { namespace: 'shop', name: 'broken', serviceAccountName: 'batch', nodeName: 'node-a', phase: 'Failed' },
        { namespace: 'shop', name: 'odd', serviceAccountName: 'Not_Valid', nodeName: 'node-a' },
      ],
      'cluster.local',
    );
    assert.deepEqual(identities, [
      { spiffeId: 'spiffe://cluster.local/ns/shop/sa/default', namespace: 'shop', serviceAccount: 'default', nodes: ['node-c'] },
      { spiffeId: 'spiffe://cluster.local/ns/shop/sa/frontend', namespace: 'shop', serviceAccount: 'frontend', nodes: ['node-a', 'node-b'] },
    ]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^shop\/Pod\/odd: /);
  });
});
