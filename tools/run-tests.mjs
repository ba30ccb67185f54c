#!/usr/bin/env node
// Runs a project's compiled tests (dist/**/*.test.js) with Node's own test runner.
// Node 20's directory discovery also treats every file under a folder named `test` as a test,
// so the files are listed here explicitly instead.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const projectRoot = resolve(process.argv[2] ?? '.');
const dist = join(projectRoot, 'dist');
const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path);
    else if (entry.endsWith('.test.js')) files.push(path);
  }
};
try {
  walk(dist);
} catch {
  // no dist: nothing built, nothing to run
}
const resultsDir = join(projectRoot, 'test-results');
mkdirSync(resultsDir, { recursive: true });
const summaryFile = join(resultsDir, 'summary.json');
if (files.length === 0) {
  console.log(`${projectRoot}: no tests`);
  writeFileSync(summaryFile, JSON.stringify({ pass: 0, fail: 0, skipped: 0 }));
  process.exit(0);
}
files.sort();
const extra = process.env.TENDRIL_TEST_CONCURRENCY ? [`--test-concurrency=${process.env.TENDRIL_TEST_CONCURRENCY}`] : [];
const tap = join(resultsDir, 'results.tap');
const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`];
const result = spawnSync(process.execPath, ['--test', '--enable-source-maps', ...reporters, ...extra, ...files], { stdio: 'inherit' });
// The counts feed the one closing line of `npm test` (tools/test-summary.mjs).
const text = readFileSync(tap, 'utf8');
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
writeFileSync(summaryFile, JSON.stringify({ pass: count('pass'), fail: count('fail') + count('cancelled'), skipped: count('skipped') }));
process.exit(result.status ?? 1);
