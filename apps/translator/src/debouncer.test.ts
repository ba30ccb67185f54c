import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Debouncer } from './debouncer.js';

test('a change after a quiet time runs at once; the rest of its burst once, after the hold-off', async () => {
  // a long hold-off, so that "at once" and "after the hold-off" stay apart on a loaded machine
  const runs: number[] = [];
  const start = Date.now();
  const debouncer = new Debouncer(async () => void runs.push(Date.now() - start), 400, 5000);
  for (let i = 0; i < 5; i++) {
    debouncer.trigger();
    await sleep(10);
  }
  await sleep(1000);
  assert.equal(runs.length, 2, `runs at ${runs.join(', ')} ms`);
  assert.ok(runs[0]! < 400, `the first change ran after ${runs[0]} ms, not at once`);
  assert.ok(runs[1]! >= 440, `the burst ran after ${runs[1]} ms, before it had been quiet for 400 ms`);
  // after a quiet time again, triggers of one turn are one run, at once
  runs.length = 0;
  const again = Date.now();
  debouncer.trigger();
  debouncer.trigger();
  debouncer.trigger();
  await sleep(300);
  assert.equal(runs.length, 1, 'one run for the three triggers');
  assert.ok(runs[0]! - (again - start) < 300);
  await debouncer.stop();
});

test('an endless burst still runs at the ceiling', async () => {
  let runs = 0;
  const debouncer = new Debouncer(async () => void runs++, 50, 100);
  const until = Date.now() + 450;
  while (Date.now() < until) {
    debouncer.trigger();
    await sleep(10);
  }
  assert.ok(runs >= 3 && runs <= 5, `${runs} runs in 450 ms with a 100 ms ceiling`);
  await debouncer.stop();
});

test('triggers during a run cause exactly one more run, never two at once', async () => {
  let active = 0;
  let overlap = false;
  let runs = 0;
  const debouncer = new Debouncer(
    async () => {
      active++;
      overlap ||= active > 1;
      runs++;
      await sleep(60);
      active--;
    },
    5,
    20,
  );
  debouncer.trigger();
  await sleep(20);
  debouncer.trigger();
  debouncer.trigger();
  await sleep(200);
  assert.equal(overlap, false);
  assert.equal(runs, 2);
  await debouncer.stop();
});

test('the rest of a change that arrives during its run at once follows at once; more after that is held', async () => {
  const starts: number[] = [];
  const start = Date.now();
  const debouncer = new Debouncer(
    async () => {
      starts.push(Date.now() - start);
      await sleep(50);
    },
    400,
    5000,
  );
  debouncer.trigger(); // a Service
  await sleep(20);
  debouncer.trigger(); // its EndpointSlice, while the Service is being translated
  await sleep(100);
  assert.equal(starts.length, 2, `runs at ${starts.join(', ')} ms`);
  assert.ok(starts[1]! < 400, `the follow-up started after ${starts[1]} ms: it waited for the hold-off`);
  debouncer.trigger(); // during or just after the follow-up: a burst, held
  await sleep(200);
  assert.equal(starts.length, 2, 'a third change so soon waits for the hold-off');
  await sleep(600);
  assert.equal(starts.length, 3);
  await debouncer.stop();
});

test('changes that keep coming during long runs wait as long as a run took, not the ceiling', async () => {
  // each run takes 500 ms; changes arrive every 10 ms for 4 s; hold-off and ceiling 250 ms (long, so a
  // loaded machine's late timers are not taken for a quiet time)
  const starts: number[] = [];
  const begin = Date.now();
  const debouncer = new Debouncer(
    async () => {
      starts.push(Date.now() - begin);
      await sleep(500);
    },
    250,
    250,
  );
  const until = Date.now() + 4000;
  while (Date.now() < until) {
    debouncer.trigger();
    await sleep(10);
  }
  await debouncer.stop();
  // the first change runs at once and what came during it follows at once (one change in two parts);
  // after that, back to back a run would start 500 ms after the one before; held as long as a run took, >= 1000 ms
  assert.ok(starts.length >= 3, `runs at ${starts.join(', ')} ms`);
  for (let i = 2; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 900, `run ${i} started ${starts[i]! - starts[i - 1]!} ms after the one before (runs at ${starts.join(', ')} ms)`);
});
