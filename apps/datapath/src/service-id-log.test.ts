import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceIdLog } from './service-id-log.js';

const warnings: string[] = [];
const logger = { log: () => undefined, warn: (message: string) => void warnings.push(message) };

function folder(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-ids-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a change appends a line, the file is not rewritten; ids come back after a restart', (t) => {
  const path = join(folder(t), 'ids.log');
  const log = new ServiceIdLog(path, logger);
  const ids = log.load();
  for (let i = 0; i < 100; i++) ids.allocate(`127.100.0.${i}:80/TCP`);
  log.save(ids);
  const { ino, size } = statSync(path);
  ids.release('127.100.0.5:80/TCP');
  ids.allocate('127.100.1.1:80/TCP');
  log.save(ids);
  const after = statSync(path);
  assert.equal(after.ino, ino, 'the same file, appended to');
  assert.equal(readFileSync(path, 'utf8').slice(size), '- 127.100.0.5:80/TCP\n+ 6 127.100.1.1:80/TCP\n');
  log.close();

  const again = new ServiceIdLog(path, logger).load();
  assert.equal(again.size, 100);
  assert.equal(again.get('127.100.0.5:80/TCP'), undefined);
  assert.equal(again.get('127.100.1.1:80/TCP'), 6);
  assert.equal(again.get('127.100.0.99:80/TCP'), 100);
  assert.equal(again.allocate('127.100.2.1:80/TCP'), 101, 'a new frontend gets a free id');
});

test('churn compacts the log to the live ids, and a line cut short by a crash is dropped', (t) => {
  const path = join(folder(t), 'ids.log');
  const log = new ServiceIdLog(path, logger);
  const ids = log.load();
  ids.allocate('keep:80/TCP');
  for (let i = 0; i < 3000; i++) {
    ids.allocate(`churn-${i}:80/TCP`);
    log.save(ids);
    ids.release(`churn-${i}:80/TCP`);
    log.save(ids);
  }
  assert.ok(log.compactions >= 2, `compacted ${log.compactions} times`);
  assert.ok(readFileSync(path, 'utf8').split('\n').length < 2100, 'the log stays bounded');
  log.close();
  appendFileSync(path, '+ 9 half-writ');
  warnings.length = 0;
  const again = new ServiceIdLog(path, logger).load();
  assert.deepEqual([...again.entries()], [['keep:80/TCP', 1]]);
  assert.match(warnings.join('\n'), /unfinished last line/);
});

test('the JSON file of older agents is moved into the log once; an unreadable log is left to adoption', (t) => {
  const dir = folder(t);
  const legacy = join(dir, 'ids.json');
  writeFileSync(legacy, JSON.stringify({ v: 1, ids: { 'a:80/TCP': 3, 'b:80/TCP': 7 } }));
  const path = join(dir, 'ids.log');
  const log = new ServiceIdLog(path, logger, legacy);
  const ids = log.load();
  log.close();
  assert.equal(ids.get('b:80/TCP'), 7);
  assert.equal(existsSync(legacy), false);
  assert.equal(new ServiceIdLog(path, logger, legacy).load().get('a:80/TCP'), 3);

  writeFileSync(path, '{"v":1}');
  warnings.length = 0;
  assert.equal(new ServiceIdLog(path, logger).load().size, 0);
  assert.match(warnings.join('\n'), /not a service id log/);
});
