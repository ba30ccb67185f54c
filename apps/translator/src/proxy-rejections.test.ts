import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUCKETS, XDS_TYPES, nodeToken, proxyStateCodec, type ProxyState } from '@tendril/contract';
import { NatsClient, type Logger } from '@tendril/platform';
import { startNatsServer, waitFor } from '@tendril/testing';
import { ProxyRejections } from './proxy-rejections.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };

function state(nodeId: string, connected: boolean, nack: { error: string; resources?: string[] } | null, versionAcked = 'v1'): ProxyState {
  return {
    v: 1,
    nodeId,
    nodeCluster: '',
    replica: 'r1',
    connectedAt: '2026-11-23T00:00:00Z',
    connected,
    types: [{ typeUrl: XDS_TYPES.listener, versionAcked, lastNonce: '3', subscribed: [], lastNack: nack && { version: 'v2', nonce: '3', ...nack }, awaitingAck: false }],
  };
}

test('rejections of connected proxies only, and a change heard only when the set of rejections changes', async (t) => {
  const server = await startNatsServer();
  const nats = new NatsClient({ url: server.url, name: 'rejections', kvReplicas: 1, logger: quiet });
  const rejections = new ProxyRejections(nats, quiet);
  t.after(async () => {
    rejections.stop();
    await nats.drain();
    await server.dispose();
  });
  let heard = 0;
  rejections.onChange(() => heard++);
  rejections.start(); // before the bucket exists: it waits for the xds-server to make it
  const kv = await nats.bucket(BUCKETS.proxies);
  const put = (value: ProxyState) => kv.put(nodeToken(value.nodeId), proxyStateCodec.encode(value));

  await put(state('node-a', true, { error: 'bad listener', resources: ['default/a/l'] }));
  await put(state('node-b', false, { error: 'gone proxy', resources: ['default/b/l'] }));
  await put(state('node-c', true, { error: 'an older server names nothing' }));
  await waitFor('the rejection of node-a', () => rejections.current().length === 1, 10000);
  assert.deepEqual(rejections.current(), [{ type: 'listener', name: 'default/a/l', nodeId: 'node-a', error: 'bad listener' }]);
  assert.equal(heard, 1);

  // Thousands of ACKs of other proxies change their states, not the rejections: nothing to hear.
  for (let i = 0; i < 20; i++) await put(state(`acking-${i}`, true, null, `v${i}`));
  await put(state('node-a', true, { error: 'bad listener', resources: ['default/a/l'] }, 'v0'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(heard, 1);

  // node-a ACKs a fixed version: the rejection goes.
  await put(state('node-a', true, null, 'v3'));
  await waitFor('no rejection left', () => rejections.current().length === 0, 10000);
  assert.equal(heard, 2);
});
