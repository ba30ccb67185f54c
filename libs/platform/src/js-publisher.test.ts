import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, StorageType, type NatsConnection } from 'nats';
import { startNatsServer, type TestNatsServer } from '@tendril/testing';
import { JetStreamPublishError, JsPublisher } from './index.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('JsPublisher (a real nats-server)', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  before(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await nc.close();
    await server.dispose();
  });

  it('stores writes in the order asked, each acknowledged with its sequence, as nats.js kv.put would', async () => {
    const kv = await nc.jetstream().views.kv('publisher-order', { history: 1 });
    const publisher = new JsPublisher(() => nc);
    // one turn of the event loop: they leave together, and land in the order they were asked for
    const writes = Array.from({ length: 300 }, (_, i) => publisher.publish(`$KV.publisher-order.k.${i % 7}`, bytes(`v${i}`)));
    const sequences = await Promise.all(writes);
    assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), 'sequences follow the order of the calls');
    assert.equal(new Set(sequences).size, 300);
    for (let key = 0; key < 7; key++) {
      const last = [...Array(300).keys()].filter((i) => i % 7 === key).at(-1)!;
      assert.equal(new TextDecoder().decode((await kv.get(`k.${key}`))!.value), `v${last}`, `k.${key} holds the last value asked for`);
    }
    assert.equal(publisher.pending, 0);
  });

  it('writes delete markers that a KV reader sees as deletions', async () => {
    const kv = await nc.jetstream().views.kv('publisher-delete', { history: 1 });
    const publisher = new JsPublisher(() => nc);
    await publisher.publish('$KV.publisher-delete.gone', bytes('here'));
    await publisher.deleteMarker('$KV.publisher-delete.gone');
    const entry = await kv.get('gone');
    assert.equal(entry?.operation, 'DEL');
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    assert.deepEqual(keys, [], 'no key is listed');
  });

  it('rejects a write no stream takes, and a write the stream refuses, without failing the others', async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'SMALL', subjects: ['small.>'], storage: StorageType.Memory, max_msg_size: 16 });
    const publisher = new JsPublisher(() => nc);
    const [nowhere, tooBig, fine] = await Promise.allSettled([
      publisher.publish('nostream.here', bytes('x')),
      publisher.publish('small.big', bytes('x'.repeat(64))),
      publisher.publish('small.ok', bytes('ok')),
    ]);
    assert.equal(nowhere.status, 'rejected');
    assert.ok((nowhere as PromiseRejectedResult).reason instanceof JetStreamPublishError);
    assert.match(String((nowhere as PromiseRejectedResult).reason), /nostream\.here: no stream takes this subject/);
    assert.equal(tooBig.status, 'rejected');
    assert.match(String((tooBig as PromiseRejectedResult).reason), /small\.big: .*message size/i);
    assert.equal(fine.status, 'fulfilled');
  });

  it('rejects a write that gets no acknowledgement in time', async () => {
    // a plain subscriber takes the subject and never answers: no responders is not said, nothing acknowledges
    const silent = nc.subscribe('silent.subject');
    const publisher = new JsPublisher(() => nc, 200);
    await assert.rejects(publisher.publish('silent.subject', bytes('x')), /silent\.subject: no acknowledgement within 200 ms/);
    assert.equal(publisher.pending, 0);
    silent.unsubscribe();
  });
});
