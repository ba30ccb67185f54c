import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAGLEV_TABLE_SIZE, isPrime, maglevTable } from './index.js';

const names = (count: number) => Array.from({ length: count }, (_, index) => ({ name: `10.0.${index >> 8}.${index & 0xff}:8080/TCP`, weight: 1 }));
const shares = (table: number[], count: number) => Array.from({ length: count }, (_, backend) => table.filter((entry) => entry === backend).length);

test('every entry is taken, each backend about 1/N of them', () => {
  assert.ok(isPrime(DEFAULT_MAGLEV_TABLE_SIZE));
  for (const count of [1, 3, 10, 100]) {
    const table = maglevTable(names(count));
    assert.equal(table.length, DEFAULT_MAGLEV_TABLE_SIZE);
    const fair = DEFAULT_MAGLEV_TABLE_SIZE / count;
    for (const share of shares(table, count)) assert.ok(Math.abs(share - fair) <= Math.max(2, fair * 0.05), `${count} backends: ${share} vs ${fair}`);
  }
});

test('removing one of N backends remaps about 1/N of the entries: its own, and few others', () => {
  for (const count of [5, 20, 50]) {
    const before = maglevTable(names(count)).map((index) => names(count)[index]!.name);
    const fewer = names(count).filter((_, index) => index !== 2);
    const after = maglevTable(fewer).map((index) => fewer[index]!.name);
    const moved = before.filter((name, entry) => name !== after[entry]);
    const own = before.filter((name) => name === names(count)[2]!.name).length;
    assert.equal(moved.filter((name) => name === names(count)[2]!.name).length, own, 'every entry of the removed backend moves');
    // Maglev trades a little disruption for balance: a few other entries move too (the paper's figure 12)
    assert.ok(moved.length / DEFAULT_MAGLEV_TABLE_SIZE < 1.6 / count, `${count}: ${moved.length} of ${DEFAULT_MAGLEV_TABLE_SIZE} moved`);
  }
});

test('adding a backend takes about 1/(N+1) of the entries and moves little else', () => {
  const count = 10;
  const before = maglevTable(names(count)).map((index) => names(count)[index]!.name);
  const more = names(count + 1);
  const after = maglevTable(more).map((index) => more[index]!.name);
  const moved = before.filter((name, entry) => name !== after[entry]).length;
  const taken = after.filter((name) => name === more[count]!.name).length;
  assert.ok(Math.abs(taken / DEFAULT_MAGLEV_TABLE_SIZE - 1 / (count + 1)) < 0.01);
  assert.ok(moved < taken * 1.3, `${moved} entries changed for ${taken} taken by the newcomer`);
});

test('the table depends on the backends, not their order; weights shape the shares', () => {
  const three = names(3);
  const forward = maglevTable(three, 1021).map((index) => three[index]!.name);
  const reversed = [...three].reverse();
  assert.deepEqual(maglevTable(reversed, 1021).map((index) => reversed[index]!.name), forward);
  const weighted = maglevTable([{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }], 1021);
  const [a, b] = shares(weighted, 2);
  assert.ok(Math.abs(a! / b! - 3) < 0.1, `3:1 -> ${a}:${b}`);
  assert.deepEqual(maglevTable([{ name: 'a', weight: 0 }]), []);
  assert.throws(() => maglevTable(three, 1000), /not a prime/);
});
