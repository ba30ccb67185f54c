import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteWindow, writeAll } from './index.js';

/** A write that completes when the test says so. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((ok, fail) => ((resolve = ok), (reject = fail)));
  return { promise, resolve, reject };
}

describe('WriteWindow', () => {
  it('starts writes in order and never holds more than its size unacknowledged', async () => {
    const window = new WriteWindow(3);
    const started: number[] = [];
    const writes = Array.from({ length: 7 }, () => deferred());
    const adding = (async () => {
      for (let i = 0; i < writes.length; i++) {
        await window.add(() => {
          started.push(i);
          return writes[i]!.promise;
        });
      }
    })();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [0, 1, 2], 'a fourth write waits for an acknowledgement');
    writes[1]!.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [0, 1, 2, 3]);
    for (const write of writes) write.resolve();
    await adding;
    await window.drain();
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(window.pending, 0);
  });

  it('drain() is a barrier: it returns only once every write is acknowledged', async () => {
    const window = new WriteWindow(4);
    const slow = deferred();
    let acknowledged = false;
    await window.add(() => slow.promise.then(() => (acknowledged = true)));
    const drained = window.drain().then(() => acknowledged);
    setTimeout(() => slow.resolve(), 20);
    assert.equal(await drained, true);
  });

  it('after a failure it starts nothing more and reports the first error once the others settled', async () => {
    const started: number[] = [];
    let settledAfterFailure = false;
    await assert.rejects(
      writeAll(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        async (i) => {
          started.push(i);
          if (i === 2) throw new Error('put 2 refused');
          await new Promise((resolve) => setTimeout(resolve, 30));
          if (i < 2) settledAfterFailure = true;
        },
        3,
      ),
      /put 2 refused/,
    );
    assert.ok(settledAfterFailure, 'writes in flight were waited for');
    assert.ok(!started.includes(9), `writes after the failure were not started (${started.join(',')})`);
  });
});
