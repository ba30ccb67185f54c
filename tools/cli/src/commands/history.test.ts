import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GenerationRecordMessage } from '@tendril/contract';
import { diffGenerations } from './history.js';

const record = (generation: number, added: string[], changed: string[], removed: string[]): GenerationRecordMessage => ({
  generation, publishedAt: '', inputDigest: '', objects: 0, counts: {}, added, changed, removed, errors: [],
});

describe('history diff', () => {
  const records = [
    record(1, ['cluster a', 'cluster b'], [], []),
    record(2, ['cluster c'], ['cluster a'], []),
    record(3, [], [], ['cluster c', 'cluster b']),
    record(4, ['cluster b'], [], []),
  ];
  it('nets out what happened between two generations', () => {
    assert.deepEqual(diffGenerations(records, 1, 3), { from: 1, to: 3, added: [], changed: ['cluster a'], removed: ['cluster b'] });
    assert.deepEqual(diffGenerations(records, 0, 4), { from: 0, to: 4, added: ['cluster a', 'cluster b'], changed: [], removed: [] });
    assert.deepEqual(diffGenerations(records, 2, 4), { from: 2, to: 4, added: [], changed: ['cluster b'], removed: ['cluster c'] });
  });
  it('is empty between a generation and itself', () => {
    assert.deepEqual(diffGenerations(records, 3, 3), { from: 3, to: 3, added: [], changed: [], removed: [] });
  });
});
