/** README's list of claimed Gateway API features is SUPPORTED_FEATURES. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './corpus.js';
import { claimedFeatures, featureListMarkdown, readmeFeatureList, withFeatureList } from './features.js';

describe('claimed features in README', () => {
  it('README lists exactly SUPPORTED_FEATURES (fix: node test/conformance/readme-features.mjs --write)', async () => {
    const text = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    assert.equal(readmeFeatureList(text), featureListMarkdown(await claimedFeatures()));
  });

  it('the list is sorted and rewritten between the markers only', () => {
    const text = `a\n<!-- conformance-features:start -->\nold\n<!-- conformance-features:end -->\nb`;
    const list = featureListMarkdown(['HTTPRoute', 'Gateway']);
    assert.equal(list, '`Gateway`, `HTTPRoute`');
    assert.equal(withFeatureList(text, list), `a\n<!-- conformance-features:start -->\n${list}\n<!-- conformance-features:end -->\nb`);
    assert.equal(featureListMarkdown([]), 'none yet');
  });
});
