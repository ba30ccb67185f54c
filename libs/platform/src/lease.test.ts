import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUCKETS, SUBJECTS, leaseCodec } from '@tendril/contract';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { KvLease, NatsClient, type LeaseState, type Logger } from './index.js';

const quiet: Logger = { log: () => undefined, warn: () => undefined, error: () => undefined };
const TIMING = { durationMs: 800, renewDeadlineMs: 500, retryMs: 150 };

describe('KvLease against a real nats-server', () => {
  let server: TestNatsServer;
  const clients: NatsClient[] = [];
  const leases: KvLease[] = [];
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    for (const lease of leases) await lease.stop();
    for (const client of clients) await client.drain();
    await server.dispose();
  });

  /** A replica: its own connection and lease; every change of role is recorded with its time. */
  const replica = (name: string, holder: string) => {
    const client = new NatsClient({ url: server.url, name: holder, kvReplicas: 1, logger: quiet });
    const lease = new KvLease(client, { name, holder, ...TIMING, logger: quiet });
    const changes: (LeaseState & { at: number })[] = [];
    lease.onChange((state) => changes.push({ ...state, at: performance.now() }));
    clients.push(client);
    leases.push(lease);
    return { client, lease, changes };
  };

  it('one replica holds the lease, the other stands by naming it, and never both are active', async () => {
    const a = replica('one-active', 'replica-a');
    await a.lease.start();
    assert.equal(a.lease.role, 'active');
    const b = replica('one-active', 'replica-b');
    await b.lease.start();
    assert.equal(b.lease.role, 'standby');
    assert.equal(b.lease.snapshot().holder, 'replica-a');
    // several TTLs of normal running: the holder renews, the standby never takes over
    const until = performance.now() + TIMING.durationMs * 3;
    while (performance.now() < until) {
      assert.ok(!(a.lease.active && b.lease.active), 'both active');
      assert.equal(a.lease.role, 'active');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const kv = await a.client.bucket(BUCKETS.leases);
    const stored = leaseCodec.decode((await kv.get('one-active'))!.value);
    assert.equal(stored.holder, 'replica-a');
    assert.equal(stored.durationMs, TIMING.durationMs);
  });

  it('a released lease passes to the standby at its next look', async () => {
    const a = replica('release', 'release-a');
    const b = replica('release', 'release-b');
    await a.lease.start();
    await b.lease.start();
    const released = performance.now();
    await a.lease.stop();
    await waitFor('the standby to take the released lease', () => b.lease.active, 10000, 20);
    assert.ok(performance.now() - released < TIMING.durationMs, 'taken over before the lease could expire: the release freed it');
  });

  it('when the holder loses NATS the standby finds nothing answering for it and takes over at once; the old holder steps down on its own clock', async () => {
    const a = replica('crash', 'crash-a');
    const b = replica('crash', 'crash-b');
    await a.lease.start();
    await b.lease.start();
    assert.equal(a.lease.role, 'active');
    const cut = performance.now();
    await a.client.nc.close(); // the holder's connection is gone: it can renew (and write) no more
    await waitFor('the standby to take over', () => b.lease.active, 15000, 20);
    await waitFor('the old holder to step down', () => !a.lease.active, 15000, 20);
    const stepDown = a.changes.find((change) => change.role === 'standby' && change.at > cut)!;
    const takeOver = b.changes.find((change) => change.role === 'active')!;
    assert.ok(takeOver.at - cut < TIMING.durationMs, `taken over after ${Math.round(takeOver.at - cut)} ms, before the lease could expire`);
    assert.match(stepDown.reason, /not renewed|cannot renew/);
  });

  it('a lease left by a holder that is gone is taken at once by a replica starting; one whose holder answers is waited out, saying so', async () => {
    const setup = replica('setup', 'setup-writer');
    await setup.client.connect();
    const kv = await setup.client.bucket(BUCKETS.leases);
    const lease = (holder: string) => leaseCodec.encode({ v: 1, holder, durationMs: 3000, acquiredAt: new Date().toISOString(), renewedAt: new Date().toISOString() });

    // the predecessor was killed (or NATS restarted): its lease is still there, nothing answers for it
    await kv.put('left', lease('killed-predecessor'));
    const fresh = replica('left', 'left-b');
    const started = performance.now();
    await fresh.lease.start();
    await waitFor('the lease taken', () => fresh.lease.active, 10000, 20);
    assert.ok(performance.now() - started < 2000, 'taken without waiting for the lease to expire');

    // a holder that is alive but does not renew (hung writes, a long pause): waited out, and the reason says so
    const ghost = setup.client.nc.subscribe(SUBJECTS.leaseHolder('hung', 'hung-holder'), { callback: (_error, msg) => msg.respond(new Uint8Array()) });
    await kv.put('hung', lease('hung-holder'));
    const waiting = replica('hung', 'hung-b');
    const since = performance.now();
    await waiting.lease.start();
    await waitFor('a waiting reason', () => /waiting for the lease held by hung-holder \(not renewed for \d+ s; expires in \d+ s\)/.test(waiting.lease.snapshot().reason), 10000, 20);
    assert.equal(waiting.lease.role, 'standby');
    await waitFor('the lease taken after it expired', () => waiting.lease.active, 15000, 20);
    assert.ok(performance.now() - since >= 3000, 'the live holder was waited out');
    ghost.unsubscribe();
  });

  it('a holder whose lease was overwritten steps down at its next renewal', async () => {
    const a = replica('overwritten', 'over-a');
    await a.lease.start();
    const kv = await a.client.bucket(BUCKETS.leases);
    await kv.put('overwritten', leaseCodec.encode({ v: 1, holder: 'intruder', durationMs: 60000, acquiredAt: new Date().toISOString(), renewedAt: new Date().toISOString() }));
    await waitFor('the holder to step down', () => !a.lease.active, 10000, 20);
    assert.match(a.lease.snapshot().reason, /another replica wrote the lease/);
    assert.equal(a.lease.snapshot().holder, undefined);
  });
});
