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
    const counting = nats.publisher.publish.bind(nats.publisher);
    nats.publisher.publish = async (...args: Parameters<typeof counting>) => {
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

test('puts are pipelined in order, every put is acknowledged before the first delete, and a refused put fails the batch', async () => {
  const server = await startNatsServer();
  const nats = new NatsClient({ url: server.url, name: 'pipelined', kvReplicas: 1, logger: quiet });
  try {
    const writer = new BucketWriter<null>(nats, 'test-pipelined', () => null, quiet, () => undefined, () => true, 8);
    await writer.start();
    const kv = await nats.bucket('test-pipelined');
    const entry = (text: string) => ({ bytes: new TextEncoder().encode(text), value: null });
    const old = new Map(Array.from({ length: 10 }, (_, i) => [`old.${i}`, entry('x')]));
    await writer.write(old);

    let inFlight = 0;
    let most = 0;
    let acknowledged = 0;
    const started: string[] = [];
    const deletedWith: number[] = [];
    // every write goes out through the connection's publisher: the put of key k as a publish to $KV.<bucket>.k
    const keyOf = (subject: string) => subject.slice('$KV.test-pipelined.'.length);
    const put = nats.publisher.publish.bind(nats.publisher);
    const remove = nats.publisher.deleteMarker.bind(nats.publisher);
    nats.publisher.publish = async (...args: Parameters<typeof put>) => {
      started.push(keyOf(args[0]));
      most = Math.max(most, ++inFlight);
      try {
        return await put(...args);
      } finally {
        inFlight--;
        acknowledged++;
      }
    };
    nats.publisher.deleteMarker = async (...args: Parameters<typeof remove>) => {
      deletedWith.push(acknowledged);
      return remove(...args);
    };
    const keys = Array.from({ length: 100 }, (_, i) => `new.${String(i).padStart(3, '0')}`);
    const result = await writer.write(new Map(keys.map((key) => [key, entry(key)])));
    assert.equal(result.puts, 100);
    assert.equal(result.deletes, 10);
    assert.deepEqual(started, keys, 'puts start in their order');
    assert.ok(most > 1 && most <= 8, `several puts in flight, never more than the window (${most})`);
    assert.deepEqual(deletedWith, Array(10).fill(100), 'every delete waited for all 100 puts');
    for (const key of keys) assert.equal(new TextDecoder().decode((await kv.get(key))!.value), key);

    nats.publisher.publish = async (...args: Parameters<typeof put>) => {
      if (keyOf(args[0]) === 'more.5') throw new Error('refused');
      return put(...args);
    };
    deletedWith.length = 0;
    await assert.rejects(writer.write(new Map(Array.from({ length: 20 }, (_, i) => [`more.${i}`, entry('y')]))), /refused/);
    assert.deepEqual(deletedWith, [], 'nothing deleted after a failed put');
  } finally {
    await nats.drain();
    await server.dispose();
  }
});
