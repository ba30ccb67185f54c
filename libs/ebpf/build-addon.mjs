#!/usr/bin/env node
// Builds the native addon offline: node-gyp is npm's own copy, the headers are the installed Node's
// (the directory above bin/node holds include/node/node_api.h), so nothing is downloaded.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodedir = process.env.npm_config_nodedir || dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(`no include/node/node_api.h under ${nodedir}; set npm_config_nodedir`);
  process.exit(1);
}
const candidates = [
  join(here, '..', '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(nodedir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
];
const gyp = candidates.find((path) => existsSync(path));
if (!gyp) {
  console.error(`node-gyp not found in ${candidates.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: here, stdio: 'inherit' });
process.exit(result.status ?? 1);
