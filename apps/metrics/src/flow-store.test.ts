import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FlowEvent } from '@tendril/contract';
import { FlowStore } from './flow-store.js';
import { flowEvent } from './testing/metrics-process.js';

const flow = (n: number, overrides: Partial<FlowEvent> = {}): FlowEvent => flowEvent(n, { at: '2026-01-01T00:00:00.000Z', ...overrides });

describe('flow store (sqlite through TypeORM)', () => {
  let dir: string;
  let store: FlowStore;
  const now = Date.parse('2026-01-01T01:00:00Z');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tendril-flows-'));
    store = await FlowStore.open({ url: '', dataDir: dir, keep: 5, maxAgeMs: 60_000 });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the newest flows by count and by age, and answers queries like the API asks them', async () => {
    assert.match(store.where, /metrics\.sqlite$/);
    await store.add('r1', [0, 1, 2].map((n) => ({ flow: flow(n), receivedAt: now - 120_000 })), now - 120_000);
    await store.add('r1', [3, 4, 5, 6].map((n) => ({ flow: flow(n, n === 4 ? { verdict: 'no-backend', serviceName: 'shop/db', service: { address: '10.96.0.12', port: 5432 } } : {}), receivedAt: now - 1000 + n })), now);
    assert.equal(await store.count(), 4, 'the three from two minutes ago are past the age limit');
    await store.add('r1', [7, 8].map((n) => ({ flow: flow(n), receivedAt: now + n })), now);
    assert.equal(await store.count(), 5, 'and only five are kept');
    const all = await store.query({}, now);
    assert.deepEqual(all.map((f) => f.backend.port), [8004, 8005, 8006, 8007, 8008]);
    assert.equal(all[0]!.replica, 'r1');
    assert.deepEqual((await store.query({ service: 'shop/db' }, now)).map((f) => f.verdict), ['no-backend']);
    assert.deepEqual((await store.query({ service: '10.96.0.12:5432' }, now)).map((f) => f.backend.port), [8004]);
    assert.deepEqual((await store.query({ service: '10.0.0.6:8007' }, now)).map((f) => f.backend.port), [8007]);
    assert.deepEqual((await store.query({ verdict: 'translated', limit: 2 }, now)).map((f) => f.backend.port), [8007, 8008]);
    assert.deepEqual((await store.query({ since: now }, now)).map((f) => f.backend.port), [8007, 8008]);
    const reopened = await FlowStore.open({ url: `sqlite:${join(dir, 'metrics.sqlite')}`, dataDir: '/nonexistent', keep: 5, maxAgeMs: 60_000 });
    assert.equal((await reopened.query({}, now)).length, 5, 'flows outlive the process');
    await reopened.close();
  });

  it('refuses a database URL it does not know', async () => {
    await assert.rejects(() => FlowStore.open({ url: 'mysql://x', dataDir: dir, keep: 1, maxAgeMs: 1 }), /TENDRIL_DB_URL=mysql:\/\/x/);
  });
});
