// Golden cases: testdata/<case>.in.yaml (objects) -> <case>.out.yaml (the compiled policy). UPDATE_GOLDEN=1 rewrites them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { compilePolicy } from './index.js';

const testdata = new URL('../testdata/', import.meta.url);
const updating = process.env['UPDATE_GOLDEN'] === '1';
const cases = readdirSync(testdata)
  .filter((file) => file.endsWith('.in.yaml'))
  .map((file) => file.slice(0, -'.in.yaml'.length))
  .sort();

test('there are golden cases', () => {
  assert.ok(cases.length >= 4, `${cases.length} cases`);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const objects = parseAllDocuments(readFileSync(new URL(`${name}.in.yaml`, testdata), 'utf8'))
      .map((document) => document.toJS() as Record<string, unknown>)
      .filter((object) => object !== null);
    const rendered = stringify(compilePolicy({ cluster: 'default', objects }), { lineWidth: 0 });
    assert.equal(stringify(compilePolicy({ cluster: 'default', objects: [...objects].reverse() }), { lineWidth: 0 }), rendered, 'reversed input changed the output');
    const output = new URL(`${name}.out.yaml`, testdata);
    if (updating) writeFileSync(output, rendered);
    assert.ok(existsSync(output), `${name}.out.yaml missing; run with UPDATE_GOLDEN=1`);
    assert.equal(rendered, readFileSync(output, 'utf8'), `${name}: output differs from ${name}.out.yaml (UPDATE_GOLDEN=1 rewrites it)`);
  });
}

test('no golden output without its input', () => {
  const orphans = readdirSync(testdata).filter((file) => file.endsWith('.out.yaml') && !cases.includes(file.slice(0, -'.out.yaml'.length)));
  if (updating) for (const file of orphans) unlinkSync(new URL(file, testdata));
  else assert.deepEqual(orphans, []);
});
