import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NatsClient, type Logger } from '@tendril/platform';
import { startNatsServer } from '@tendril/testing';
import { BucketWriter, NotWritingError } from './bucket-writer.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };

test('a writer that loses its lease stops before its next write, in the middle of a batch', async () => {
  const server = await startNatsServer();
  const nats = new NatsClient({ url: server.url, name: 'writer', kvReplicas: 1, logger: quiet });
  try {
    let writes = 0;
    const writer = new BucketWriter<null>(nats, 'test-fenced', () => null, quiet, () => undefined, () => writes < 2);
    await writer.start();
    const kv = await nats.bucket('test-fenced');
    const desired = new Map(['a', 'b', 'c', 'd'].map((key) => [key, { bytes: new TextEncoder().encode(key), value: null }]));
    const counting = kv.put.bind(kv);
    kv.put = async (...args: Parameters<typeof kv.put>) => {
      writes++;
      return counting(...args);
    };
    await assert.rejects(writer.write(desired), (error: Error) => error instanceof NotWritingError && /lease lost/.test(error.message));
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    assert.deepEqual(keys.sort(), ['a', 'b'], 'two puts while it could write, then none');
  } finally {
    await nats.drain();
    await server.dispose();
  }
});
