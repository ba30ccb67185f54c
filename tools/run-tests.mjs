#!/usr/bin/env node
// Runs a project's compiled tests (dist/**/*.test.js) with Node's own test runner.
// Node 20's directory discovery also treats every file under a folder named `test` as a test,
// so the files are listed here explicitly instead.
import { readdirSync, statSync } from 'node:fs';
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
if (files.length === 0) {
  console.log(`${projectRoot}: no tests`);
  process.exit(0);
}
files.sort();
const extra = process.env.TENDRIL_TEST_CONCURRENCY ? [`--test-concurrency=${process.env.TENDRIL_TEST_CONCURRENCY}`] : [];
const result = spawnSync(process.execPath, ['--test', '--enable-source-maps', ...extra, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
