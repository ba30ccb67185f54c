#!/usr/bin/env node
// Keeps README's list of claimed Gateway API features true (SUPPORTED_FEATURES of @tendril/translation).
// Needs the built project (npx nx run conformance-tests:build).
//   node test/conformance/readme-features.mjs          print the list
//   node test/conformance/readme-features.mjs --write  rewrite README.md's list
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { claimedFeatures, featureListMarkdown, withFeatureList } from './dist/features.js';

const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
const list = featureListMarkdown(await claimedFeatures());
if (process.argv.includes('--write')) writeFileSync(readme, withFeatureList(readFileSync(readme, 'utf8'), list));
console.log(list);
