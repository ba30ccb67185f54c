#!/usr/bin/env node
// Adds up every project's test-results/summary.json (written by tools/run-tests.mjs, restored by the
// Nx cache) into the one closing line of `npm test`.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
let pass = 0;
let fail = 0;
let skipped = 0;
for (const group of ['apps', 'libs', 'test', 'bpf']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  const projects = group === 'bpf' ? [dir] : readdirSync(dir).map((name) => join(dir, name));
  for (const project of projects) {
    const file = join(project, 'test-results', 'summary.json');
    if (!existsSync(file)) continue;
    const summary = JSON.parse(readFileSync(file, 'utf8'));
    pass += summary.pass;
    fail += summary.fail;
    skipped += summary.skipped;
  }
}
console.log(`Tests: ${pass} passed, ${fail} failed, ${skipped} skipped`);
process.exit(fail > 0 ? 1 : 0);
