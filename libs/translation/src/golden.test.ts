import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { translate, type TranslationOutput } from './index.js';
import { TEST_CLUSTER, checkGolden, goldenCases, manifestObjects, orphanOutputs, toYaml, withOwnedObjects } from './testing/golden.js';
import { XDS_TYPE_ORDER } from './xds/index.js';

const testdata = fileURLToPath(new URL('../testdata/', import.meta.url));

/** What a reviewer reads: outputs per xDS type, lb entries, statuses, owned objects, errors (the IR is left out). */
function render(output: TranslationOutput): string {
  const xds: Record<string, unknown[]> = {};
  for (const type of XDS_TYPE_ORDER) {
    const resources = output.xds.filter((item) => item.type === type).map(({ name, nodeSelector, resource }) => (nodeSelector ? { name, nodeSelector, resource } : { name, resource }));
    if (resources.length) xds[type] = resources;
  }
  return toYaml({ xds, lb: output.lb, statuses: output.statuses, ...(output.owned.length ? { owned: output.owned } : {}), errors: output.errors });
}

const cases = goldenCases(testdata);

test('there are golden cases', () => {
  assert.ok(cases.length >= 9, `found ${cases.length} cases in ${testdata}`);
});

for (const golden of cases) {
  test(`golden: ${golden.name}`, () => {
    // as the cluster holds them once the owned Services are applied and have their addresses
    const objects = withOwnedObjects(TEST_CLUSTER, manifestObjects(golden.input));
    const rendered = render(translate({ cluster: TEST_CLUSTER, objects }));
    assert.equal(checkGolden(golden, rendered), undefined);
    assert.equal(render(translate({ cluster: TEST_CLUSTER, objects: [...objects].reverse() })), rendered, 'reversed input changed the output');
  });
}

test('no golden output without its input', () => {
  assert.deepEqual(orphanOutputs(testdata), []);
});

/** A small seeded generator: the shuffles differ from each other but are the same on every run. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('same objects in any order give identical bytes', () => {
  const all = cases.flatMap((golden) => manifestObjects(golden.input).map(([key, object]) => [`${golden.name}|${key}`, key, object] as const));
  // Cases reuse names; keep the last of each key so the combined input is one consistent set.
  const unique = [...new Map(all.map(([, key, object]) => [key, object])).entries()];
  assert.ok(unique.length > 20, `only ${unique.length} objects`);
  const reference = JSON.stringify(translate({ cluster: TEST_CLUSTER, objects: unique }));
  for (const seed of [1, 2, 3, 4, 5]) {
    const again = JSON.stringify(translate({ cluster: TEST_CLUSTER, objects: shuffled(unique, seed) }));
    assert.equal(again, reference, `shuffle with seed ${seed} changed the output`);
  }
});
