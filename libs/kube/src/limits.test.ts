import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STORED_OBJECT_LIMIT, parseManifestFile, parseManifests, storedObjectSize } from './index.js';

const service = (name: string, annotation = '') => `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  annotations: {blob: "${annotation}"}\nspec: {ports: [{port: 80}]}\n`;

describe('the size an API server stores', () => {
  it('accepts a 1.2 MiB Service annotation and refuses a 2 MiB one, naming the limit', () => {
    const large = parseManifests(service('large', 'x'.repeat(1.2 * 1024 * 1024)), 'large.yaml', 'default');
    assert.deepEqual(large.errors, []);
    assert.equal(large.objects.length, 1);
    const tooLarge = parseManifests(service('too-large', 'x'.repeat(2 * 1024 * 1024)), 'big.yaml', 'default');
    assert.equal(tooLarge.objects.length, 0);
    assert.equal(tooLarge.errors[0]!.object, 'default/Service/too-large');
    assert.match(tooLarge.errors[0]!.message, /^object is 2,097,\d{3} bytes as stored, over the API server's limit of 1,572,864/);
  });

  it('counts a built-in kind as protobuf (no field names) and a custom resource as JSON', () => {
    const paths = Array.from({ length: 50000 }, (_, i) => ({ path: `/p${i}`, pathType: 'Prefix', backend: { service: { name: 'a', port: { number: 80 } } } }));
    const ingress = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'huge', namespace: 'default' }, spec: { rules: [{ http: { paths } }] } };
    const json = JSON.stringify(ingress).length;
    const stored = storedObjectSize(ingress);
    assert.equal(stored.encoding, 'protobuf');
    assert.ok(json > 2 * STORED_OBJECT_LIMIT, `JSON is ${json} bytes`);
    assert.ok(stored.bytes < STORED_OBJECT_LIMIT && stored.bytes > json / 4, `protobuf estimate ${stored.bytes}`);
    const parsed = parseManifestFile(new TextEncoder().encode(JSON.stringify(ingress)), 'huge.json', 'default');
    assert.deepEqual(parsed.errors, []);
    const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r' }, spec: { hostnames: Array.from({ length: 30000 }, (_, i) => `h${i}.example.com`) } };
    assert.deepEqual(storedObjectSize(route), { bytes: JSON.stringify(route).length, encoding: 'json' });
    // Secret data is stored as raw bytes, not base64
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { 'tls.key': Buffer.alloc(3000).toString('base64') } };
    assert.ok(storedObjectSize(secret).bytes < 3100);
  });
});

describe('parse limits: each bad document refused on its own, with its file and index', () => {
  it('an alias bomb is refused; the next document is read', () => {
    const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 12 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`)];
    const text = `apiVersion: v1\nkind: Service\nmetadata: {name: bomb}\n${bomb.join('\n')}\n---\n${service('after')}`;
    const parsed = parseManifests(text, 'bomb.yaml', 'default');
    assert.deepEqual(parsed.objects.map((o) => o.ref.name), ['after']);
    assert.deepEqual([parsed.errors[0]!.source, parsed.errors[0]!.file, parsed.errors[0]!.document], ['bomb.yaml#1', 'bomb.yaml', 1]);
    assert.match(parsed.errors[0]!.message, /alias/);
  });

  it('refuses deep nesting, a stack-breaking flow collection, bad UTF-8, NUL bytes and an oversized file', () => {
    const deepBlock = `a:\n${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i + 2)}b${i}:`).join('\n')} 1\n`;
    assert.match(parseManifests(deepBlock, 'deep.yaml', 'default').errors[0]!.message, /nested more than 128 levels/);
    assert.equal(parseManifests('['.repeat(200000), 'flow.yaml', 'default').errors.length, 1);
    assert.match(parseManifestFile(Uint8Array.from([0x61, 0x3a, 0xc3, 0x28]), 'bad.yaml', 'default').errors[0]!.message, /not UTF-8/);
    assert.match(parseManifestFile(new TextEncoder().encode('a: 1\0'), 'nul.yaml', 'default').errors[0]!.message, /binary/);
    const limits = { maxFileBytes: 100, maxDocumentBytes: 50, maxAliasCount: 100, maxDepth: 128 };
    assert.match(parseManifestFile(new Uint8Array(101), 'big.yaml', 'default', limits).errors[0]!.message, /over the limit of 100/);
    const documents = parseManifests(`${service('s')}---\nx: 1\n`, 'doc.yaml', 'default', { ...limits, maxFileBytes: 1000 });
    assert.match(documents.errors[0]!.message, /document is \d+ characters, over the limit of 50/);
  });

  it('reads UTF-16 with a byte-order mark and UTF-8 with one', () => {
    const text = service('wide');
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    for (const bytes of [le, be, bom]) assert.deepEqual(parseManifestFile(bytes, 'w.yaml', 'default').objects.map((o) => o.ref.name), ['wide']);
  });

  it('reports unknown kinds and empty files as ignored notes, and resolves merge keys', () => {
    const unknown = parseManifests('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n', 'd.yaml', 'default');
    assert.deepEqual(unknown.notes.map((n) => [n.source, n.object, n.severity]), [['d.yaml#1', 'default/Deployment/web', 'ignored']]);
    assert.deepEqual(parseManifests('', 'e.yaml', 'default').notes.map((n) => [n.source, n.message]), [['e.yaml', 'empty file: no documents']]);
    const merged = parseManifests('x: &x {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: m}\nspec:\n  <<: {ports: [{port: 81}]}\n', 'm.yaml', 'default');
    assert.equal(merged.objects.length, 1);
  });
});
