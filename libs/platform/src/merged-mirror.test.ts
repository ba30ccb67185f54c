import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { KvMirror, MergedKvMirror, NatsClient, type Logger, type MirrorChange } from './index.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

let server: TestNatsServer;
before(async () => {
  server = await startNatsServer();
});
after(async () => {
  await server.dispose();
});

test('MergedKvMirror: two buckets seen as one store; a key misplaced in the other bucket is seen until its own holds it', async () => {
  const nats = new NatsClient({ url: server.url, name: 'merged', kvReplicas: 1, logger: quiet });
  const main = await nats.bucket('merged-main');
  const keys = await nats.bucket('merged-keys');
  await main.put('a.service.x', bytes('service'));
  // a "key" kind written where an older version put it, and one in its own bucket
  await main.put('a.key.old', bytes('old place'));
  await keys.put('a.key.new', bytes('new place'));
  const buckets = ['merged-main', 'merged-keys'];
  const merged = new MergedKvMirror(
    buckets.map((bucket) => new KvMirror(nats, { bucket, decode: (_key, value) => text(value), logger: quiet })),
    (key) => (key.split('.')[1] === 'key' ? 1 : 0),
  );
  const seen: MirrorChange<string>[] = [];
  merged.onChange((changes) => seen.push(...changes));
  await merged.start();
  assert.ok(merged.isInitiallySynced);
  assert.deepEqual(merged.values().sort(), [['a.key.new', 'new place'], ['a.key.old', 'old place'], ['a.service.x', 'service']]);
  assert.equal(merged.size, 3);

  // moved: written to its own bucket first (the value changes to it), then deleted where it was (no change seen)
  seen.length = 0;
  await keys.put('a.key.old', bytes('moved'));
  await waitFor('the home value wins', () => merged.get('a.key.old') === 'moved');
  await main.delete('a.key.old');
  await main.put('a.service.y', bytes('later'));
  await waitFor('a later change', () => merged.get('a.service.y') === 'later');
  assert.equal(merged.get('a.key.old'), 'moved', 'a delete in the other bucket does not remove the home value');
  assert.deepEqual(
    seen.map((change) => `${change.op} ${change.key} ${change.value ?? ''} <- ${change.previous ?? ''}`),
    ['put a.key.old moved <- old place', 'put a.service.y later <- '],
  );

  // a key of the home bucket alone is deleted with it
  await keys.delete('a.key.new');
  await waitFor('deleted', () => merged.get('a.key.new') === undefined);
  assert.equal(seen.at(-1)?.op, 'delete');
  assert.equal(seen.at(-1)?.previous, 'new place');
  assert.equal(merged.size, 3);
  merged.stop();
  await nats.drain();
});
