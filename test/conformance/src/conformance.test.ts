/**
 * The Gateway API conformance suite (../shared/conformance) against the real watcher and translator:
 * prints passes per test and per feature (and writes test-results/conformance.json), and fails when a
 * test whose features Tendril claims (SUPPORTED_FEATURES of @tendril/translation) fails, naming the
 * test, the step and why. TENDRIL_CONFORMANCE_ONLY=<regex> runs a subset.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { corpusDir, isClaimed, loadCorpus, repoRoot } from './corpus.js';
import { claimedFeatures } from './features.js';
import { renderReport, runConformance } from './harness.js';

const dir = corpusDir();

describe('Gateway API conformance', { timeout: 600000 }, () => {
  it('every test of a claimed feature passes', { skip: !dir && 'no conformance corpus (set TENDRIL_CONFORMANCE_DIR or place it at ../shared/conformance)' }, async () => {
    const claimed = await claimedFeatures();
    const only = process.env['TENDRIL_CONFORMANCE_ONLY'] ? new RegExp(process.env['TENDRIL_CONFORMANCE_ONLY']) : undefined;
    const report = await runConformance({ dir: dir!, claimed, only, log: (line) => process.stdout.write(`# ${line}\n`) });
    const results = join(repoRoot, 'test', 'conformance', 'test-results');
    mkdirSync(results, { recursive: true });
    writeFileSync(join(results, 'conformance.json'), JSON.stringify(report, null, 2));
    process.stdout.write(`${renderReport(report)}\n`);
    const expectedClaimed = loadCorpus(dir!).tests.filter((t) => (!only || only.test(t.name)) && isClaimed(t, claimed)).length;
    assert.equal(report.tests.filter((t) => t.claimed).length, expectedClaimed, 'every claimed test ran');
    const regressions = report.tests
      .filter((t) => t.claimed && t.outcome === 'fail')
      .flatMap((t) =>
        t.cases
          .filter((c) => !c.passed)
          .map((failed) => `${t.name}: ${failed.phase} ${failed.index + 1} ${failed.check}${failed.title ? ` "${failed.title}"` : ''}: ${failed.failure}${failed.resolved ? `\n    resolved: ${failed.resolved}` : ''}`),
      );
    assert.deepEqual(regressions, [], `claimed conformance tests fail:\n${regressions.join('\n')}`);
  });
});
