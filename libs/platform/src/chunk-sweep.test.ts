/**
 * Chunks no head names (a writer that stopped between a value's chunks and its head) are deleted by
 * KvValues' sweep once unnamed for the grace period, with a real nats-server: chunks a head names, a
 * head written within the grace period, and a value being written are never touched.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { chunkKey, encodeChunkedHead, isChunkKey, sha256Hex } from '@tendril/contract';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { NatsClient, type Logger } from './index.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('sweeping chunks no head names (a nats-server with max_payload 64 KiB)', () => {
  let server: TestNatsServer;
  before(async () => {
    server = await startNatsServer({ maxPayload: 64 * 1024 });
  });
  after(async () => {
    await server.dispose();
  });

  const chunksOf = async (kv: { keys(): Promise<AsyncIterable<string>> }) => {
    const keys: string[] = [];
    for await (const key of await kv.keys()) if (isChunkKey(key)) keys.push(key);
    return keys.sort();
  };

  it('deletes chunks left without their head once unnamed for the grace period, and nothing a head names', async () => {
    const nats = new NatsClient({ url: server.url, name: 'sweeper', kvReplicas: 1, logger: quiet });
    const values = await nats.values('test-sweep');
    const kv = values.kv;
    // a whole value in chunks, named by its head
    const named = randomBytes(200 * 1024);
    await values.put('default.service.kept.one', named);
    const namedChunks = await chunksOf(kv);
    assert.ok(namedChunks.length >= 3);
    // a writer that died: its chunks went in, its head never did
    const lost = randomBytes(100 * 1024);
    const lostSha = sha256Hex(lost);
    const lostChunks = [0, 1].map((index) => chunkKey('default.service.lost.two', lostSha, index));
    for (const [index, key] of lostChunks.entries()) await kv.put(key, lost.subarray(index * 60_000, (index + 1) * 60_000));
    // another writer on its way: chunks in, the head comes within the grace period
    const slow = randomBytes(100 * 1024);
    const slowSha = sha256Hex(slow);
    const slowChunks = [0, 1].map((index) => chunkKey('default.service.slow.three', slowSha, index));
    for (const [index, key] of slowChunks.entries()) await kv.put(key, slow.subarray(index * 60_000, (index + 1) * 60_000));

    const grace = 60_000;
    const start = Date.now();
    const first = await values.sweepOrphanChunks(grace, start);
    assert.deepEqual(first, { deleted: [], waiting: 2 }, 'found unnamed, left for the grace period');
    const early = await values.sweepOrphanChunks(grace, start + grace - 1);
    assert.deepEqual(early.deleted, [], 'not before the grace period is over');

    // the slow writer's head lands: its chunks are named now
    await kv.put('default.service.slow.three', encodeChunkedHead({ v: 1, size: slow.length, sha256: slowSha, chunks: 2 }));

    const late = await values.sweepOrphanChunks(grace, start + grace);
    assert.deepEqual(late, { deleted: [...lostChunks].sort(), waiting: 0 });
    assert.deepEqual(await chunksOf(kv), [...namedChunks, ...slowChunks].sort(), 'named chunks stay');
    assert.equal((await kv.get('default.service.kept.one'))?.operation, 'PUT');

    // a head replaced by a value of one message leaves no chunk named; a head deleted by someone else neither
    await kv.put('default.service.slow.three', new TextEncoder().encode('{}'));
    await values.sweepOrphanChunks(0, start + 2 * grace);
    const afterReplace = await values.sweepOrphanChunks(0, start + 2 * grace + 1);
    assert.deepEqual(afterReplace.deleted, [...slowChunks].sort());
    assert.deepEqual(await chunksOf(kv), namedChunks);
    await nats.drain();
  });

  it('a NatsClient with a sweep configured sweeps the buckets it writes on its own; a value written meanwhile keeps its chunks', async () => {
    const nats = new NatsClient({ url: server.url, name: 'swept', kvReplicas: 1, logger: quiet, chunkSweep: { intervalMs: 1000, graceMs: 0 } });
    const values = await nats.values('test-swept');
    const orphan = chunkKey('default.service.gone.x', sha256Hex(new Uint8Array([1])), 0);
    await values.kv.put(orphan, new Uint8Array([1]));
    // written while the sweeps run (every second, no grace)
    await values.put('default.service.big.y', randomBytes(2 * 1024 * 1024));
    await waitFor('the orphan deleted by the periodic sweep', async () => !(await chunksOf(values.kv)).includes(orphan), 60_000, 200);
    const left = await chunksOf(values.kv);
    assert.ok(left.length >= 30 && left.every((key) => key.startsWith('default.service.big.y.')), 'the value written meanwhile keeps its chunks');
    await nats.drain();
  });
});
