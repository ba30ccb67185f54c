import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MAX_KV_VALUE_BYTES, ValueTooLargeError, isChunkKey } from '@tendril/contract';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { KvMirror, NatsClient, type Logger } from './index.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex').slice(0, 16);

describe('values over max_payload (a nats-server with max_payload 64 KiB)', () => {
  let server: TestNatsServer;
  before(async () => {
    server = await startNatsServer({ maxPayload: 64 * 1024 });
  });
  after(async () => {
    await server.dispose();
  });

  it('are written in chunks and read whole; replacing or deleting them leaves no chunk behind', async () => {
    const writer = new NatsClient({ url: server.url, name: 'large-writer', kvReplicas: 1, logger: quiet });
    const reader = new NatsClient({ url: server.url, name: 'large-reader', kvReplicas: 1, logger: quiet });
    const values = await writer.values('test-large');
    assert.equal(writer.maxPayload, 64 * 1024, 'nats.js knows the server max_payload');
    const first = randomBytes(Math.round(1.2 * 1024 * 1024));
    const second = randomBytes(300 * 1024);
    await values.put('default.service.big.one', first);
    await values.put('default.service.small.two', Buffer.from('small'));

    const mirror = new KvMirror(reader, { bucket: 'test-large', decode: (_key, bytes) => Buffer.from(bytes), logger: quiet, checkIntervalMs: 200 });
    const seen: string[] = [];
    mirror.onChange((changes) => {
      for (const change of changes) seen.push(`${change.op} ${change.key} ${change.value ? hex(change.value) : ''}`);
    });
    await mirror.start();
    assert.deepEqual(mirror.keys().sort(), ['default.service.big.one', 'default.service.small.two'], 'chunk keys are no entries');
    assert.ok(mirror.get('default.service.big.one')!.equals(first), 'the replayed value is whole');

    await values.put('default.service.big.one', second);
    await waitFor('the new version', () => mirror.get('default.service.big.one')?.equals(second) === true);
    await values.put('default.service.big.one', Buffer.from('now small'));
    await waitFor('the small version', () => mirror.get('default.service.big.one')?.toString() === 'now small');
    await values.put('default.service.big.one', first);
    await waitFor('large again', () => mirror.get('default.service.big.one')?.equals(first) === true);
    await values.delete('default.service.big.one');
    await waitFor('deleted', () => mirror.get('default.service.big.one') === undefined);

    // listeners saw every version whole, each once
    assert.deepEqual(
      seen.filter((line) => line.includes('big.one')),
      [
        `put default.service.big.one ${hex(first)}`,
        `put default.service.big.one ${hex(second)}`,
        `put default.service.big.one ${hex(Buffer.from('now small'))}`,
        `put default.service.big.one ${hex(first)}`,
        'delete default.service.big.one ',
      ],
    );
    const kv = await writer.bucket('test-large');
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    assert.deepEqual(keys.filter(isChunkKey), [], 'no chunk is left in the bucket');
    mirror.stop();
    await reader.drain();
    await writer.drain();
  });

  it('a restarted writer deletes the chunks of the value it replaces, learnt from its mirror', async () => {
    const client = new NatsClient({ url: server.url, name: 'restarted', kvReplicas: 1, logger: quiet });
    await (await client.values('test-restart')).put('k', randomBytes(200 * 1024));
    const mirror = new KvMirror(client, { bucket: 'test-restart', create: true, decode: (_key, bytes) => bytes.length, logger: quiet });
    await mirror.start();
    assert.equal(mirror.get('k'), 200 * 1024);
    const restarted = new NatsClient({ url: server.url, name: 'restarted-again', kvReplicas: 1, logger: quiet });
    const fresh = await restarted.values('test-restart', (key) => mirror.chunkedHead(key));
    await fresh.put('k', randomBytes(150 * 1024));
    await waitFor('the new value', () => mirror.get('k') === 150 * 1024);
    const keys: string[] = [];
    for await (const key of await (await client.bucket('test-restart')).keys()) keys.push(key);
    assert.equal(keys.filter(isChunkKey).length, 3, `only the new value's 3 chunks remain (${keys.length} keys)`);
    mirror.stop();
    await restarted.drain();
    await client.drain();
  });

  it('refuses a value over the limit with an error naming the key and the limit', async () => {
    const client = new NatsClient({ url: server.url, name: 'too-large', kvReplicas: 1, logger: quiet });
    const values = await client.values('test-too-large');
    await assert.rejects(
      values.put('default.ingress.ns.huge', new Uint8Array(MAX_KV_VALUE_BYTES + 1)),
      (error: Error) => error instanceof ValueTooLargeError && error.message.includes('default.ingress.ns.huge') && error.message.includes(String(MAX_KV_VALUE_BYTES)),
    );
    await client.drain();
  });
});
