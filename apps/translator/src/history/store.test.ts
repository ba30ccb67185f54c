import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@tendril/testing';
import type { GenerationRecord } from './record.js';
import { TypeOrmHistoryStore } from './store.js';

function record(generation: number): GenerationRecord {
  return {
    generation,
    publishedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, generation)).toISOString(),
    inputDigest: String(generation % 10).repeat(64),
    objects: 10 + generation,
    counts: { listener: 1, route: 1, cluster: generation, endpoint: generation, secret: 0, lb: 2, status: 1 },
    added: [`cluster default/echo:${generation}`],
    changed: generation % 2 ? ['endpoint default/echo:80'] : [],
    removed: generation > 1 ? [`cluster default/echo:${generation - 1}`] : [],
    errors: generation === 3 ? [{ object: 'default/Ingress/bad', message: 'spec.rules[0].http.paths[0].backend: required' }] : [],
  };
}

async function exercise(open: () => Promise<TypeOrmHistoryStore>): Promise<void> {
  const store = await open();
  try {
    for (let generation = 1; generation <= 5; generation++) await store.record(record(generation));
    const last = await store.last(10);
    // keep = 3: the two oldest are gone; newest first; every field round-trips
    assert.deepEqual(last.map((entry) => entry.generation), [5, 4, 3]);
    assert.deepEqual(last[2], record(3));
    assert.deepEqual((await store.last(1)).map((entry) => entry.generation), [5]);
  } finally {
    await store.close();
  }
  // another process (a restart) finds the same history
  const again = await open();
  try {
    assert.deepEqual((await again.last(10)).map((entry) => entry.generation), [5, 4, 3]);
    await again.record(record(6));
    assert.deepEqual((await again.last(10)).map((entry) => entry.generation), [6, 5, 4]);
  } finally {
    await again.close();
  }
}

test('sqlite: records generations, keeps the last N, survives a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-history-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await exercise(() => TypeOrmHistoryStore.open({ url: '', dataDir: join(dir, 'data'), keep: 3 }));
  assert.ok(existsSync(join(dir, 'data', 'translator.sqlite')), 'no sqlite file in TENDRIL_DATA_DIR');
});

test('sqlite: an unusable TENDRIL_DB_URL is refused with the reason', async () => {
  await assert.rejects(TypeOrmHistoryStore.open({ url: 'mysql://x', dataDir: '.', keep: 3 }), /TENDRIL_DB_URL=mysql:\/\/x: expected postgres/);
});

const PG_BIN = '/usr/lib/postgresql/15/bin';

test('postgres: the same behaviour through TENDRIL_DB_URL', { timeout: 60000 }, async (t) => {
  if (!existsSync(join(PG_BIN, 'postgres')) || process.getuid?.() !== 0) {
    t.skip(`needs root and PostgreSQL 15 in ${PG_BIN} (Debian package postgresql)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tendril-pg-'));
  // PostgreSQL refuses to run as root: initdb and the server run as the postgres user.
  const user = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
  chownSync(dir, user.uid, user.gid);
  execFileSync(join(PG_BIN, 'initdb'), ['-D', join(dir, 'db'), '--auth=trust', '-U', 'postgres'], { ...user, stdio: 'ignore' });
  const port = await freePort();
  const server = spawn(join(PG_BIN, 'postgres'), ['-D', join(dir, 'db'), '-p', String(port), '-k', dir, '-h', '127.0.0.1'], { ...user, stdio: 'ignore' });
  t.after(async () => {
    const exited = new Promise((resolve) => (server.exitCode === null && server.signalCode === null ? server.once('exit', resolve) : resolve(undefined)));
    server.kill('SIGINT'); // fast shutdown
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor('postgres accepting connections', async () => {
    try {
      execFileSync(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }, 30000);
  await exercise(() => TypeOrmHistoryStore.open({ url, dataDir: dir, keep: 3 }));
});
