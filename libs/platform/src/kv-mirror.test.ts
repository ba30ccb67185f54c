import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { KvMirror, NatsClient, Readiness, writeAll, type Logger, type MirrorChange } from './index.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

describe('NatsClient and KvMirror against a real nats-server', () => {
  let server: TestNatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('mirrors puts and deletes, and converges after the server restarts', async () => {
    const readiness = new Readiness();
    const writer = new NatsClient({ url: server.url, name: 'writer', kvReplicas: 1, logger: quiet });
    const reader = new NatsClient({ url: server.url, name: 'reader', kvReplicas: 1, logger: quiet, readiness: readiness.register('nats', 'starting') });
    const kv = await writer.bucket('test-mirror');
    await kv.put('a.one', bytes('1'));
    await kv.put('b.two', bytes('2'));
    const mirror = new KvMirror(reader, { bucket: 'test-mirror', decode: (_k, v) => text(v), logger: quiet, checkIntervalMs: 200 });
    const seen: MirrorChange<string>[] = [];
    mirror.onChange((changes) => seen.push(...changes));
    await mirror.start();
    assert.deepEqual(mirror.values().sort(), [['a.one', '1'], ['b.two', '2']]);
    assert.ok(readiness.ready);

    await kv.put('a.one', bytes('1b'));
    await kv.delete('b.two');
    await waitFor('update and delete', () => mirror.get('a.one') === '1b' && mirror.get('b.two') === undefined);

    await server.restart();
    await waitFor('reader reconnected', () => reader.connected && writer.connected, 20000);
    const kvAfter = await writer.bucket('test-mirror');
    await kvAfter.put('c.three', bytes('3'));
    await kvAfter.delete('a.one');
    await waitFor('changes after restart', () => mirror.get('c.three') === '3' && mirror.get('a.one') === undefined, 20000);
    assert.deepEqual(mirror.values(), [['c.three', '3']]);
    // every change reached listeners exactly once, in order per key
    const forA = seen.filter((c) => c.key === 'a.one').map((c) => `${c.op}:${c.value ?? ''}`);
    assert.deepEqual(forA, ['put:1', 'put:1b', 'delete:']);
    mirror.stop();
    await reader.drain();
    await writer.drain();
  });

  it('leaves out values that do not decode, naming the key, and keeps the rest', async () => {
    const warnings: string[] = [];
    const client = new NatsClient({ url: server.url, name: 'bad', kvReplicas: 1, logger: quiet });
    const kv = await client.bucket('test-bad');
    await kv.put('good', bytes('{"n":1}'));
    await kv.put('bad', bytes('{oops'));
    const mirror = new KvMirror(client, {
      bucket: 'test-bad',
      decode: (_k, v) => JSON.parse(text(v)) as { n: number },
      logger: { ...quiet, warn: (m) => warnings.push(m) },
    });
    await mirror.start();
    assert.deepEqual(mirror.keys(), ['good']);
    assert.equal(mirror.failures, 1);
    assert.match(warnings.join('\n'), /ignoring key bad/);
    mirror.stop();
    await client.drain();
  });

  it('a reader waits for a bucket its writer has not made yet', async () => {
    const reader = new NatsClient({ url: server.url, name: 'early', kvReplicas: 1, logger: quiet });
    const waiting: string[] = [];
    const mirror = new KvMirror(reader, { bucket: 'test-late', decode: (_k, v) => text(v), logger: quiet, onWaiting: (r) => waiting.push(r) });
    const started = mirror.start();
    await waitFor('reader waiting', () => waiting.length > 0);
    const writer = new NatsClient({ url: server.url, name: 'late-writer', kvReplicas: 1, logger: quiet });
    await (await writer.bucket('test-late')).put('k', bytes('v'));
    await started;
    assert.equal(mirror.get('k'), 'v');
    mirror.stop();
    await reader.drain();
    await writer.drain();
  });

  it('converges on 50,000 entries replayed on a starved CPU, restarting nothing and leaving no consumer behind', async () => {
    const writer = new NatsClient({ url: server.url, name: 'starved-writer', kvReplicas: 1, logger: quiet });
    const reader = new NatsClient({ url: server.url, name: 'starved-reader', kvReplicas: 1, logger: quiet });
    const kv = await writer.bucket('test-starved');
    const total = 50000;
    await writeAll(
      Array.from({ length: total }, (_, i) => i),
      (i) => kv.put(`k.${i}`, bytes(String(i))),
      256,
    );
    const logs: string[] = [];
    const mirror = new KvMirror(reader, {
      bucket: 'test-starved',
      // every entry costs 0.05 ms more CPU: the replay lasts seconds, many checks
      decode: (_key, value) => {
        const until = performance.now() + 0.05;
        while (performance.now() < until);
        return text(value);
      },
      logger: { ...quiet, log: (m) => logs.push(m), warn: (m) => logs.push(m) },
      checkIntervalMs: 500,
    });
    // the head keeps moving during the replay
    let writing = true;
    const live = (async () => {
      for (let i = 0; writing; i++) {
        await kv.put(`live.${i % 20}`, bytes(String(i)));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await mirror.start();
    writing = false;
    await live;
    await waitFor('every key mirrored', () => mirror.size === total + 20 && mirror.get('k.49999') === '49999', 120000);
    assert.deepEqual(
      logs.filter((line) => /re-watching/.test(line)),
      [],
      'the replay was never restarted',
    );
    const jsm = await writer.jsm();
    const consumersOnStream = async () => (await jsm.consumers.list('KV_test-starved').next()).map((info) => info.name).sort();
    await waitFor('only the live watch has a consumer', async () => {
      const names = await consumersOnStream();
      return names.length === 1 && mirror.consumerNames.includes(names[0]!);
    }, 20000);
    mirror.stop();
    await waitFor('the stopped watch deleted its consumer', async () => (await consumersOnStream()).length === 0, 20000);
    await reader.drain();
    await writer.drain();
  });

  it('restarts a watch whose consumer is gone, and deletes nothing it still uses', async () => {
    const client = new NatsClient({ url: server.url, name: 'stalled', kvReplicas: 1, logger: quiet });
    const kv = await client.bucket('test-stalled');
    await kv.put('a', bytes('1'));
    const logs: string[] = [];
    const mirror = new KvMirror(client, { bucket: 'test-stalled', decode: (_k, v) => text(v), logger: { ...quiet, log: (m) => logs.push(m) }, checkIntervalMs: 100 });
    await mirror.start();
    const jsm = await client.jsm();
    const [first] = mirror.consumerNames;
    assert.ok(first);
    await jsm.consumers.delete('KV_test-stalled', first);
    await kv.put('b', bytes('2'));
    await waitFor('the change after the stall', () => mirror.get('b') === '2', 30000);
    await kv.put('c', bytes('3'));
    await waitFor('later changes too', () => mirror.get('c') === '3', 30000);
    const names = (await jsm.consumers.list('KV_test-stalled').next()).map((info) => info.name);
    assert.ok(names.every((name) => mirror.consumerNames.includes(name)), `only live consumers remain (${names.join(', ')})`);
    mirror.stop();
    await client.drain();
  });
});
