// Every way a manifest file can be bad, against the real watcher process and a real nats-server: each
// is refused (or reported as ignored) with its file and reason in tendril.k8s-watcher.errors, while
// edits, additions and deletions of the other files keep reaching tendril-objects, /readyz stays 200,
// and objects as large as an API server stores reach the bucket intact.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubeObjectCodec } from '@tendril/contract';
import { startNatsServer, waitFor, type TestNatsServer } from '@tendril/testing';
import { startWatcherProcess, type WatcherProcess } from './testing/watcher-process.js';

const WAIT = 90000;
const service = (name: string, annotations: Record<string, string> = {}) =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  annotations: ${JSON.stringify(annotations)}\nspec:\n  ports:\n  - port: 80\n`;
const key = (name: string) => `default.service.default.${name}`;

function aliasBomb(): string {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let level = 1; level <= 12; level++) lines.push(`a${level}: &a${level} [${Array(9).fill(`*a${level - 1}`).join(', ')}]`);
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: bomb\n  annotations:\n${lines.map((line) => `    ${line}`).join('\n')}\nspec:\n  ports:\n  - port: 80\n`;
}

describe('k8s-watcher standalone: bad files are refused one by one, the rest keeps flowing', () => {
  let nats: TestNatsServer;
  let folder: string;
  let outside: string;
  let watcher: WatcherProcess;
  let step = 0;

  /** An edit, an addition and a deletion of good files, each seen in the bucket. */
  const othersKeepFlowing = async () => {
    step++;
    writeFileSync(join(folder, 'alpha.yaml'), service('alpha', { step: String(step) }));
    writeFileSync(join(folder, `extra-${step}.yaml`), service(`extra-${step}`));
    rmSync(join(folder, `extra-${step - 1}.yaml`), { force: true });
    await waitFor(`edit ${step} mirrored`, async () => (await watcher.object(key('alpha')))?.metadata.annotations?.['step'] === String(step), WAIT, 200);
    await waitFor(`addition ${step} mirrored`, async () => (await watcher.object(key(`extra-${step}`))) !== undefined, WAIT, 200);
    await waitFor(`deletion ${step} mirrored`, async () => (await watcher.object(key(`extra-${step - 1}`))) === undefined, WAIT, 200);
    assert.equal((await watcher.readyz())?.status, 200);
  };
  const errorFor = async (source: RegExp, message: RegExp) =>
    waitFor(`an entry for ${source} matching ${message}`, async () => (await watcher.errors()).find((error) => source.test(error.source) && message.test(error.message)), WAIT, 200);

  before(async () => {
    // room for the 50,000-path Ingress in one message (nats-server's default max_payload is 1 MiB)
    nats = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
    folder = mkdtempSync(join(tmpdir(), 'tendril-refusals-'));
    outside = mkdtempSync(join(tmpdir(), 'tendril-refusals-outside-'));
    writeFileSync(join(folder, 'alpha.yaml'), service('alpha'));
    writeFileSync(join(folder, 'extra-0.yaml'), service('extra-0'));
    watcher = await startWatcherProcess(nats.url, folder);
    await waitFor('ready', async () => (await watcher.readyz())?.status === 200, WAIT, 200);
    assert.deepEqual(await watcher.keys(), [key('alpha'), key('extra-0')]);
  });
  after(async () => {
    await watcher?.close();
    await nats?.dispose();
    rmSync(folder, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('an alias bomb is refused with its file and document, the file\'s other documents and other files flow', async () => {
    writeFileSync(join(folder, 'bomb.yaml'), `${aliasBomb()}---\n${service('after-bomb')}`);
    const refusal = await errorFor(/^bomb\.yaml#1$/, /alias/);
    assert.equal(refusal.file, 'bomb.yaml');
    assert.equal(refusal.document, 1);
    assert.equal(refusal.severity, 'error');
    await waitFor('the next document of the same file', async () => (await watcher.object(key('after-bomb'))) !== undefined, WAIT, 200);
    await othersKeepFlowing();
    assert.equal(watcher.output().split('refused bomb.yaml#1').length - 1, 1, 'logged once');
  });

  it('a 2 MiB Service is refused naming the limit; a 1.2 MiB one and a 50,000-path Ingress reach the bucket intact', async () => {
    writeFileSync(join(folder, 'big.yaml'), service('too-big', { blob: 'x'.repeat(2 * 1024 * 1024) }));
    const refusal = await errorFor(/^big\.yaml#1$/, /bytes as stored/);
    assert.equal(refusal.object, 'default/Service/too-big');
    assert.match(refusal.message, /^object is [\d,]+ bytes as stored, over the API server's limit of 1,572,864/);
    const blob = 'y'.repeat(1.2 * 1024 * 1024);
    writeFileSync(join(folder, 'large.yaml'), service('large', { blob }));
    const paths = Array.from({ length: 50000 }, (_, i) => ({ path: `/p${i}`, pathType: 'Prefix', backend: { service: { name: 'a', port: { number: 80 } } } }));
    const ingress = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'huge' }, spec: { rules: [{ http: { paths } }] } };
    writeFileSync(join(folder, 'huge.json'), JSON.stringify(ingress));
    const large = await waitFor('1.2 MiB Service mirrored', () => watcher.object(key('large')), WAIT, 300);
    assert.equal(large.metadata.annotations?.['blob'], blob);
    const huge = (await waitFor('50,000-path Ingress mirrored', () => watcher.object('default.ingress.default.huge'), WAIT, 300)) as unknown as typeof ingress;
    assert.deepEqual(huge.spec.rules[0]!.http.paths, paths);
    assert.equal(await watcher.object(key('too-big')), undefined);
    await othersKeepFlowing();
  });

  it('the same object in two files is refused in both and keeps its last value until one is left', async () => {
    writeFileSync(join(folder, 'dup-b.yaml'), service('dup', { version: 'b1' }));
    await waitFor('the first copy mirrored', async () => (await watcher.object(key('dup')))?.metadata.annotations?.['version'] === 'b1', WAIT, 200);
    // a second file, sorting first, does not take the object over
    writeFileSync(join(folder, 'dup-a.yaml'), service('dup', { version: 'a1' }));
    const inA = await errorFor(/^dup-a\.yaml#1$/, /duplicate/);
    const inB = await errorFor(/^dup-b\.yaml#1$/, /duplicate/);
    assert.match(inA.message, /dup-b\.yaml#1/);
    assert.match(inB.message, /dup-a\.yaml#1/);
    assert.equal(inA.object, 'default/Service/dup');
    writeFileSync(join(folder, 'dup-b.yaml'), service('dup', { version: 'b2' }));
    await othersKeepFlowing();
    assert.equal((await watcher.object(key('dup')))?.metadata.annotations?.['version'], 'b1', 'kept while duplicated');
    rmSync(join(folder, 'dup-a.yaml'));
    await waitFor('unique again: the remaining file wins', async () => (await watcher.object(key('dup')))?.metadata.annotations?.['version'] === 'b2', WAIT, 200);
    await waitFor('duplicate entries gone', async () => !(await watcher.errors()).some((error) => /duplicate/.test(error.message)), WAIT, 200);
  });

  it('links to files and folders are followed; a loop and a broken link are refused with a reason', async () => {
    writeFileSync(join(outside, 'target.yaml'), service('linked-file'));
    mkdirSync(join(outside, 'dir'));
    writeFileSync(join(outside, 'dir', 'inside.yaml'), service('linked-dir'));
    symlinkSync(join(outside, 'target.yaml'), join(folder, 'link.yaml'));
    symlinkSync(join(outside, 'dir'), join(folder, 'linked'));
    mkdirSync(join(folder, 'sub'));
    symlinkSync(folder, join(folder, 'sub', 'loop'));
    symlinkSync(join(outside, 'missing.yaml'), join(folder, 'broken.yaml'));
    await waitFor('the linked file mirrored', async () => (await watcher.object(key('linked-file'))) !== undefined, WAIT, 200);
    await waitFor('the linked folder mirrored', async () => (await watcher.object(key('linked-dir'))) !== undefined, WAIT, 200);
    const loop = await errorFor(/^sub\/loop$/, /symbolic link loop/);
    assert.match(loop.message, /leads back/);
    await errorFor(/^broken\.yaml$/, /broken symbolic link/);
    await othersKeepFlowing();
    // the objects reached through the loop are not read twice
    assert.ok(!(await watcher.errors()).some((error) => /duplicate/.test(error.message)));
  });

  it('hears edits through links, new folders filled at once, folders removed and ignore markers', async () => {
    // the target of a linked file lives outside every watched folder: its edit still arrives
    writeFileSync(join(outside, 'target.yaml'), service('linked-file', { edited: 'yes' }));
    await waitFor('the linked file edit', async () => (await watcher.object(key('linked-file')))?.metadata.annotations?.['edited'] === 'yes', WAIT, 200);
    writeFileSync(join(outside, 'dir', 'second.yaml'), service('linked-dir-second'));
    await waitFor('a file added in a linked folder', async () => (await watcher.object(key('linked-dir-second'))) !== undefined, WAIT, 200);
    // a folder made and filled at once, two levels deep, before any watch of it can exist
    mkdirSync(join(folder, 'new', 'deeper'), { recursive: true });
    writeFileSync(join(folder, 'new', 'one.yaml'), service('new-one'));
    writeFileSync(join(folder, 'new', 'deeper', 'two.yaml'), service('new-two'));
    await waitFor('files of a new folder', async () => (await watcher.object(key('new-one'))) !== undefined && (await watcher.object(key('new-two'))) !== undefined, WAIT, 200);
    // and later files in it, once it is watched
    writeFileSync(join(folder, 'new', 'deeper', 'three.yaml'), service('new-three'));
    await waitFor('a later file of the new folder', async () => (await watcher.object(key('new-three'))) !== undefined, WAIT, 200);
    writeFileSync(join(folder, 'new', '.tendril-ignore'), '');
    await waitFor('an ignored folder drops its objects', async () => (await watcher.object(key('new-one'))) === undefined && (await watcher.object(key('new-three'))) === undefined, WAIT, 200);
    rmSync(join(folder, 'new', '.tendril-ignore'));
    await waitFor('the marker gone, they are back', async () => (await watcher.object(key('new-one'))) !== undefined && (await watcher.object(key('new-three'))) !== undefined, WAIT, 200);
    rmSync(join(folder, 'new'), { recursive: true });
    await waitFor('a removed folder drops its objects', async () => (await watcher.object(key('new-one'))) === undefined && (await watcher.object(key('new-two'))) === undefined, WAIT, 200);
    await othersKeepFlowing();
  });

  it('an unknown kind and an empty file are reported as ignored, not skipped in silence', async () => {
    writeFileSync(join(folder, 'deploy.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n');
    writeFileSync(join(folder, 'empty.yaml'), '');
    const unknown = await errorFor(/^deploy\.yaml#1$/, /not a kind Tendril mirrors/);
    assert.equal(unknown.severity, 'ignored');
    assert.equal(unknown.object, 'default/Deployment/web');
    const empty = await errorFor(/^empty\.yaml$/, /empty file/);
    assert.equal(empty.severity, 'ignored');
    await othersKeepFlowing();
  });

  it('objects another part of Tendril owns are never deleted unless a file held them', async () => {
    const owned = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'owned', namespace: 'default', labels: { 'app.kubernetes.io/managed-by': 'tendril' } }, spec: { ports: [{ port: 80 }] } };
    const stray = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'stray', namespace: 'default' }, spec: { ports: [{ port: 80 }] } };
    await watcher.kv.put(key('owned'), kubeObjectCodec.encode(owned as never));
    await watcher.kv.put(key('stray'), kubeObjectCodec.encode(stray as never));
    await othersKeepFlowing();
    // a restart reads the folder whole and deletes what no file holds, except the owned object
    assert.equal(await watcher.stop(), 0);
    watcher.start();
    await waitFor('ready after restart', async () => (await watcher.readyz())?.status === 200, WAIT, 200);
    await waitFor('the stray object deleted', async () => (await watcher.object(key('stray'))) === undefined, WAIT, 200);
    assert.deepEqual((await watcher.object(key('owned')))?.metadata.labels, owned.metadata.labels);
    // a file holding the same object replaces it, and removing that file removes it
    writeFileSync(join(folder, 'owned.yaml'), service('owned', { from: 'file' }));
    await waitFor('the file wins', async () => (await watcher.object(key('owned')))?.metadata.annotations?.['from'] === 'file', WAIT, 200);
    rmSync(join(folder, 'owned.yaml'));
    await waitFor('deleted with its file', async () => (await watcher.object(key('owned'))) === undefined, WAIT, 200);
    await othersKeepFlowing();
  });

  it('a folder that cannot be read is not ready and deletes nothing; it flows again once back', async () => {
    const before = await watcher.keys();
    const moved = `${folder}.moved`;
    renameSync(folder, moved);
    writeFileSync(folder, 'not a folder');
    await waitFor('not ready', async () => (await watcher.readyz())?.status === 503, WAIT, 200);
    assert.match((await watcher.readyz())!.body, /cannot list/);
    assert.deepEqual(await watcher.keys(), before);
    rmSync(folder);
    renameSync(moved, folder);
    await waitFor('ready again', async () => (await watcher.readyz())?.status === 200, WAIT, 200);
    await othersKeepFlowing();
    assert.deepEqual(new Set(await watcher.keys()).has(key('alpha')), true);
  });
});
