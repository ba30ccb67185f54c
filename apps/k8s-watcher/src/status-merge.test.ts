import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeStatus } from './status-writer.js';

const NOW = '2026-11-23T12:00:00Z';
const EARLIER = '2026-01-01T00:00:00Z';
const ours = 'io.cilium/gateway-controller';

describe('the status written back', () => {
  it('replaces only an Ingress load balancer, keeping what else is there', () => {
    const merged = mergeStatus('ingress', { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] }, other: 1 }, { loadBalancer: { ingress: [{ ip: '127.101.0.1' }] } }, ours, NOW);
    assert.deepEqual(merged, { loadBalancer: { ingress: [{ ip: '127.101.0.1' }] }, other: 1 });
  });

  it('keeps a condition transition time while its status holds, sets it when it flips, and keeps conditions of other types', () => {
    const current = {
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: EARLIER },
        { type: 'Programmed', status: 'False', reason: 'Pending', message: '', lastTransitionTime: EARLIER },
        { type: 'example.com/Audited', status: 'True', reason: 'Audited', message: '', lastTransitionTime: EARLIER },
      ],
    };
    const desired = {
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', observedGeneration: 2 },
        { type: 'Programmed', status: 'True', reason: 'Programmed', message: 'ok', observedGeneration: 2 },
      ],
    };
    const merged = mergeStatus('gateway', current, desired, ours, NOW) as { conditions: { type: string; lastTransitionTime: string; message: string }[] };
    const byType = Object.fromEntries(merged.conditions.map((c) => [c.type, c]));
    assert.equal(byType['Accepted']!.lastTransitionTime, EARLIER);
    assert.equal(byType['Accepted']!.message, 'ok');
    assert.equal(byType['Programmed']!.lastTransitionTime, NOW);
    assert.ok(byType['example.com/Audited'], 'a condition we do not own stays');
  });

  it('replaces our route parents, keeps other controllers\' and drops ours that are no longer desired', () => {
    const other = { parentRef: { name: 'gw' }, controllerName: 'example.com/other', conditions: [] };
    const current = {
      parents: [other, { parentRef: { name: 'old-gw' }, controllerName: ours, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: EARLIER }] }],
    };
    const desired = { parents: [{ parentRef: { name: 'gw' }, controllerName: ours, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '' }] }] };
    const merged = mergeStatus('httproute', current, desired, ours, NOW) as { parents: { parentRef: { name: string }; controllerName: string }[] };
    assert.deepEqual(
      merged.parents.map((p) => `${p.controllerName} ${p.parentRef.name}`),
      ['example.com/other gw', `${ours} gw`],
    );
  });

  it('replaces our policy ancestors (BackendTLSPolicy), keeps other controllers\' and the transition time of a held condition', () => {
    const other = { ancestorRef: { name: 'gw' }, controllerName: 'example.com/other', conditions: [] };
    const current = {
      ancestors: [other, { ancestorRef: { name: 'gw' }, controllerName: ours, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: EARLIER }] }, { ancestorRef: { name: 'old-gw' }, controllerName: ours, conditions: [] }],
    };
    const desired = { ancestors: [{ ancestorRef: { name: 'gw' }, controllerName: ours, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'still' }] }] };
    const merged = mergeStatus('backendtlspolicy', current, desired, ours, NOW) as { ancestors: { ancestorRef: { name: string }; controllerName: string; conditions: { lastTransitionTime: string }[] }[] };
    assert.deepEqual(
      merged.ancestors.map((a) => `${a.controllerName} ${a.ancestorRef.name}`),
      ['example.com/other gw', `${ours} gw`],
    );
    assert.equal(merged.ancestors[1]!.conditions[0]!.lastTransitionTime, EARLIER);
  });

  it('gives Gateway listener conditions transition times, kept per listener while their status holds', () => {
    const current = { listeners: [{ name: 'http', attachedRoutes: 1, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: EARLIER }] }] };
    const desired = {
      listeners: [
        { name: 'http', attachedRoutes: 2, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', observedGeneration: 3 }] },
        { name: 'https', attachedRoutes: 0, conditions: [{ type: 'Accepted', status: 'False', reason: 'UnsupportedValue', message: 'no', observedGeneration: 3 }] },
      ],
    };
    const merged = mergeStatus('gateway', current, desired, ours, NOW) as { listeners: { name: string; attachedRoutes: number; conditions: { lastTransitionTime: string; message: string }[] }[] };
    assert.deepEqual(merged.listeners.map((l) => [l.name, l.attachedRoutes, l.conditions[0]!.lastTransitionTime, l.conditions[0]!.message]), [
      ['http', 2, EARLIER, 'ok'],
      ['https', 0, NOW, 'no'],
    ]);
  });
});

describe('the merge patch of a status write', () => {
  it('names with null what the new status no longer has, at every depth, and nothing unchanged', async () => {
    const { mergePatchBetween } = await import('./status-writer.js');
    const before = { loadBalancer: { ingress: [{ ip: '198.18.0.1' }] }, conditions: [{ type: 'Accepted' }], other: 1 };
    assert.deepEqual(mergePatchBetween(before, { loadBalancer: {}, conditions: [{ type: 'Accepted' }], other: 1 }), { loadBalancer: { ingress: null } });
    assert.deepEqual(mergePatchBetween(before, { conditions: [{ type: 'Accepted', status: 'True' }], other: 1 }), { loadBalancer: null, conditions: [{ type: 'Accepted', status: 'True' }] });
    assert.deepEqual(mergePatchBetween({}, { listeners: [{ name: 'http' }], addresses: { a: null, b: 1 } }), { listeners: [{ name: 'http' }], addresses: { b: 1 } });
  });
});
