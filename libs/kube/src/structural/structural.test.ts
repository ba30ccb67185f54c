import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { integer, keyedList, list, map, object, required, rule, set, string, withRules, type StructuralSchema } from './schema.js';
import { RULES_NOT_CHECKED, validateStructural } from './validator.js';

// A small custom resource exercising each behaviour of the API server the engine reproduces.
const widget: StructuralSchema = object({
  apiVersion: string(),
  kind: string(),
  metadata: { type: 'object' },
  spec: required(
    object({
      size: integer({ minimum: 1, maximum: 10, default: 3 }),
      mode: string({ enum: ['Fast', 'Slow'], default: 'Fast' }),
      owner: withRules(string({ maxLength: 20 }), rule('self == oldSelf', 'owner is immutable')),
      namespace: string(),
      port: { 'x-kubernetes-int-or-string': true },
      tags: set(string()),
      parts: withRules(keyedList(object({ name: required(string()), count: integer() }), ['name']), {
        rule: 'self.all(p, p.count <= 5)',
        messageExpression: "'parts may hold at most 5 of each, ' + self[0].name + ' holds more'",
        fieldPath: '[0].count',
        reason: 'FieldValueForbidden',
      }),
      labels: map(string()),
      nested: object({ inner: object({ value: string({ default: 'x' }) }, { default: {} }) }),
    }),
  ),
});

const base = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };

describe('structural schema and CEL engine', () => {
  it('prunes unknown fields, drops nulls and applies defaults, as an API server stores the object', () => {
    const result = validateStructural(widget, { ...base, spec: { size: null, colour: 'blue', nested: { inner: null } }, status: { ready: true } });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.pruned, ['spec.colour']);
    assert.deepEqual(result.object['spec'], { size: 3, mode: 'Fast', nested: { inner: { value: 'x' } } });
    assert.deepEqual(result.object['status'], { ready: true }, 'status belongs to the controllers and is left alone');
  });

  it('words OpenAPI refusals as the API server does', () => {
    const result = validateStructural(widget, { ...base, spec: { size: 11, mode: 'Medium', owner: 'a'.repeat(21), tags: ['a', 'b', 'a'], parts: [{ name: 'x', count: 1 }, { name: 'x', count: 1 }, { count: 1 }] } });
    assert.deepEqual(result.errors, [
      'spec.mode: Unsupported value: "Medium": supported values: "Fast", "Slow"',
      'spec.owner: Too long: may not be more than 20 bytes',
      'spec.parts[1]: Duplicate value: {"name":"x"}',
      'spec.parts[2].name: Required value',
      'spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10',
      'spec.tags[2]: Duplicate value: "a"',
    ]);
  });

  it('skips the CEL rules when a value has the wrong type, and says so', () => {
    const result = validateStructural(widget, { ...base, spec: { size: 'big', parts: [{ name: 'x', count: 9 }] } });
    assert.deepEqual(result.errors, ['<nil>: Invalid value: null: ' + RULES_NOT_CHECKED, 'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"']);
  });

  it('evaluates CEL rules with messageExpression, fieldPath and reason', () => {
    const result = validateStructural(widget, { ...base, spec: { parts: [{ name: 'bolt', count: 9 }] } });
    assert.deepEqual(result.errors, ['spec.parts[0].count: Forbidden: parts may hold at most 5 of each, bolt holds more']);
  });

  it('runs transition rules (oldSelf) on an update only', () => {
    const old = { ...base, spec: { owner: 'ann' } };
    const changed = { ...base, spec: { owner: 'bob' } };
    assert.deepEqual(validateStructural(widget, changed).errors, []);
    assert.deepEqual(validateStructural(widget, changed, old).errors, ['spec.owner: Invalid value: "string": owner is immutable']);
    assert.deepEqual(validateStructural(widget, old, old).errors, []);
  });

  it('accepts an int-or-string either way and refuses anything else', () => {
    assert.deepEqual(validateStructural(widget, { ...base, spec: { port: 8080 } }).errors, []);
    assert.deepEqual(validateStructural(widget, { ...base, spec: { port: 'http' } }).errors, []);
    assert.equal(validateStructural(widget, { ...base, spec: { port: true } }).errors.length, 2);
  });

  it("escapes CEL's reserved words in property names (namespace is __namespace__)", () => {
    const schema = object({ spec: object({ namespace: string() }, { 'x-kubernetes-validations': [rule("self.__namespace__ != 'kube-system'", 'not there')] }) });
    assert.deepEqual(validateStructural(schema, { spec: { namespace: 'kube-system' } }).errors, ['spec: Invalid value: "object": not there']);
    assert.deepEqual(validateStructural(schema, { spec: { namespace: 'default' } }).errors, []);
  });

  it('reports a rule that errors at run time with the error and the rule', () => {
    const schema = object({ spec: object({ items: list(string()) }, { 'x-kubernetes-validations': [rule('self.items.size() > 0', 'items needed')] }) });
    const [error] = validateStructural(schema, { spec: {} }).errors;
    assert.match(error!, /^spec: Invalid value: "object": .* evaluating rule: items needed$/);
  });
});
