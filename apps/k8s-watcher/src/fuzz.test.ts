// Fuzzing the manifest folder: thousands of mutated files (YAML features, sizes, encodings, JSON,
// binary, truncation) against the real watcher process and a real nats-server. The watcher never
// crashes, never freezes the folder (a good edit made after each batch, and after the whole run, still
// reaches the bucket), and every refusal it lists names its file. The same cases also go through the
// parser in-process, where nothing may throw.
// TENDRIL_FUZZ_CASES (default 2000) and TENDRIL_FUZZ_SEED (default 15) make longer or other runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseManifestFile } from '@tendril/kube';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { fuzzCases } from './testing/fuzz-cases.js';
import { startWatcherProcess, type WatcherProcess } from './testing/watcher-process.js';

const CASES = Number(process.env['TENDRIL_FUZZ_CASES'] ?? 2000);
const SEED = Number(process.env['TENDRIL_FUZZ_SEED'] ?? 15);
const BATCH = 500;
const WAIT = 180000;
const CANARY_KEY = 'default.service.default.fuzz-canary';
const canary = (mark: number) => `apiVersion: v1\nkind: Service\nmetadata:\n  name: fuzz-canary\n  annotations: {mark: "${mark}"}\nspec:\n  ports:\n  - port: 80\n`;

describe('fuzzing the manifest folder', () => {
  const cases = fuzzCases(SEED, CASES);
  let nats: TestNatsServer;
  let folder: string;
  let watcher: WatcherProcess;
  let mark = 0;

  /** A good edit, and the time it takes to reach the bucket: every change written before it was read by then. */
  const canaryFlows = async () => {
    mark++;
    const started = Date.now();
    writeFileSync(join(folder, 'canary.yaml'), canary(mark));
    await waitFor(`canary edit ${mark}`, async () => (await watcher.object(CANARY_KEY))?.metadata.annotations?.['mark'] === String(mark), WAIT, 100);
    return Date.now() - started;
  };

  before(async () => {
    nats = await startNatsServer();
    folder = mkdtempSync(join(tmpdir(), 'tendril-fuzz-'));
    writeFileSync(join(folder, 'canary.yaml'), canary(0));
    watcher = await startWatcherProcess(nats.url, folder);
    await waitFor('ready', async () => (await watcher.readyz())?.status === 200, WAIT, 200);
  });
  after(async () => {
    await watcher?.close();
    await nats?.dispose();
    rmSync(folder, { recursive: true, force: true });
  });

  it('the parser never throws, and names the file of every refusal', () => {
    for (const fuzz of cases) {
      const parsed = parseManifestFile(fuzz.bytes, fuzz.name, 'default');
      for (const entry of [...parsed.errors, ...parsed.notes]) {
        assert.equal(entry.file, fuzz.name, `${fuzz.name} (${fuzz.how}): ${JSON.stringify(entry)}`);
        assert.ok(entry.source.startsWith(fuzz.name), `${fuzz.name} (${fuzz.how})`);
        assert.ok(entry.message.length > 0);
      }
    }
  });

  it('the watcher reads every case without crashing or freezing, and every refusal names its file', async () => {
    let refused = 0;
    let accepted = 0;
    for (let start = 0; start < cases.length; start += BATCH) {
      const batch = cases.slice(start, start + BATCH);
      for (const fuzz of batch) writeFileSync(join(folder, fuzz.name), fuzz.bytes);
      await canaryFlows();
      const errors = await watcher.errors();
      const names = new Set(batch.map((fuzz) => fuzz.name));
      for (const error of errors) {
        assert.ok(error.file && names.has(error.file), `an entry that names no file of the batch: ${JSON.stringify(error).slice(0, 300)}`);
        assert.ok(error.source.startsWith(error.file!));
        assert.ok(error.severity === 'error' || error.severity === 'ignored');
      }
      refused += errors.filter((error) => error.severity === 'error').length;
      accepted += (await watcher.keys()).length - 1;
      // every case's file gets removed again: the deletions flow too
      for (const fuzz of batch) rmSync(join(folder, fuzz.name));
      await canaryFlows();
      await waitFor('the batch removed', async () => (await watcher.keys()).join() === CANARY_KEY, WAIT, 200);
      assert.deepEqual(await watcher.errors(), []);
      assert.equal(watcher.output().includes('unhandled'), false, watcher.output().split('\n').find((line) => line.includes('unhandled')));
      assert.equal((await watcher.readyz())?.status, 200);
    }
    const ms = await canaryFlows();
    console.log(`fuzz: ${cases.length} files (seed ${SEED}): ${refused} refusals, ${accepted} objects accepted; a good edit afterwards took ${ms} ms`);
    assert.ok(refused > cases.length / 4, 'most mutations are refused');
    assert.ok(accepted > 0, 'some mutations are still valid objects');
  });
});
