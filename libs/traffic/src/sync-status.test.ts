import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { typeSyncStatus as syncState } from './proxy-status.js';

describe('proxy sync state', () => {
  const type = { typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', versionAcked: 'v1', lastNonce: '4', subscribed: [], lastNack: null };
  it('tells SYNCED, STALE (a push awaiting its ACK), NACK and NOT SENT apart', () => {
    assert.equal(syncState(type), 'SYNCED');
    assert.equal(syncState({ ...type, awaitingAck: true }), 'STALE');
    assert.equal(syncState({ ...type, versionAcked: '' }), 'STALE');
    assert.equal(syncState({ ...type, lastNack: { version: 'v2', nonce: '4', error: 'bad' } }), 'NACK');
    assert.equal(syncState({ ...type, lastNack: { version: 'v2', nonce: '3', error: 'old' } }), 'SYNCED');
    assert.equal(syncState({ ...type, lastNonce: '', versionAcked: '' }), 'NOT SENT');
  });
});
