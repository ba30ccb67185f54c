#!/usr/bin/env node
// Keeps the list of claimed Gateway API features in docs/features.md true (SUPPORTED_FEATURES of
// @tendril/translation).
// Needs the built project (npx nx run conformance-tests:build).
//   node test/conformance/readme-features.mjs          print the list
//   node test/conformance/readme-features.mjs --write  rewrite the list in docs/features.md
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FEATURE_LIST_DOC, claimedFeatures, featureListMarkdown, withFeatureList } from './dist/features.js';

const doc = fileURLToPath(new URL(`../../${FEATURE_LIST_DOC}`, import.meta.url));
const list = featureListMarkdown(await claimedFeatures());
if (process.argv.includes('--write')) writeFileSync(doc, withFeatureList(readFileSync(doc, 'utf8'), list));
console.log(list);
