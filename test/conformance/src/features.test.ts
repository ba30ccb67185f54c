/** The list of claimed Gateway API features in docs/features.md is SUPPORTED_FEATURES. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './corpus.js';
import { FEATURE_LIST_DOC, claimedFeatures, featureListMarkdown, documentFeatureList, withFeatureList } from './features.js';

describe('claimed features in docs/features.md', () => {
  it('docs/features.md lists exactly SUPPORTED_FEATURES (fix: node test/conformance/readme-features.mjs --write)', async () => {
    const text = readFileSync(join(repoRoot, FEATURE_LIST_DOC), 'utf8');
    assert.equal(documentFeatureList(text), featureListMarkdown(await claimedFeatures()));
  });

  it('the list is sorted and rewritten between the markers only', () => {
    const text = `a\n<!-- conformance-features:start -->\nold\n<!-- conformance-features:end -->\nb`;
    const list = featureListMarkdown(['HTTPRoute', 'Gateway']);
    assert.equal(list, '`Gateway`, `HTTPRoute`');
    assert.equal(withFeatureList(text, list), `a\n<!-- conformance-features:start -->\n${list}\n<!-- conformance-features:end -->\nb`);
    assert.equal(featureListMarkdown([]), 'none yet');
  });
});
