/**
 * Standalone validation of Gateway API objects refuses exactly what a kube-apiserver with the official
 * CRDs refuses. The reference is built here, at test time, from the CRDs beside the repository
 * (../shared/gateway-api-crds, or TENDRIL_GATEWAY_API_CRDS_DIR): each served version's
 * openAPIV3Schema checked by the same engine (Ajv for the OpenAPI part, @bufbuild/cel for the CRD's
 * own CEL rules). The objects: every Gateway API manifest of the conformance corpus (../shared/conformance,
 * or TENDRIL_CONFORMANCE_DIR), a few seeds of our own that reach the rules the corpus does not, and
 * the variants of each that break one field. Each must get the same refusals (field path and message),
 * the same pruned fields and the same stored (defaulted) object from our schemas as from the CRD's.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { StructuralSchema } from '../structural/schema.js';
import { validateStructural } from '../structural/validator.js';
import { GATEWAY_API_CHANNELS, GATEWAY_GROUP, gatewayApiKind, gatewayApiKinds, type GatewayApiChannel } from './index.js';
import { variantsOf } from './variants.js';

const repoRoot = resolve(fileURLToPath(new URL('../../../..', import.meta.url)));
const crdsDir = process.env['TENDRIL_GATEWAY_API_CRDS_DIR'] ?? join(repoRoot, '..', 'shared', 'gateway-api-crds');
const corpusDir = process.env['TENDRIL_CONFORMANCE_DIR'] ?? join(repoRoot, '..', 'shared', 'conformance');
const haveData = existsSync(join(crdsDir, 'standard')) && existsSync(join(corpusDir, 'tests'));
const skip = !haveData && `no Gateway API CRDs or conformance corpus (place them at ../shared or set TENDRIL_GATEWAY_API_CRDS_DIR and TENDRIL_CONFORMANCE_DIR)`;

type Json = Record<string, unknown>;

interface Reference {
  /** `Kind/version` -> the CRD's openAPIV3Schema, for each served version. */
  schemas: Map<string, StructuralSchema>;
  /** `Kind: message` of every CEL rule of every served version. */
  rules: Set<string>;
}

interface Crd {
  kind: string;
  spec: { names: { kind: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: StructuralSchema } }[] };
}

function loadCrds(channel: GatewayApiChannel): Reference {
  const schemas = new Map<string, StructuralSchema>();
  const rules = new Set<string>();
  const dir = join(crdsDir, channel);
  const documents = readdirSync(dir)
    .filter((name) => name.startsWith(`${GATEWAY_GROUP}_`))
    .flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((document) => document.toJS() as Crd | null));
  for (const crd of documents) {
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const version of crd.spec.versions.filter((entry) => entry.served)) {
      const schema = version.schema.openAPIV3Schema;
      schemas.set(`${crd.spec.names.kind}/${version.name}`, schema);
      const walk = (node: StructuralSchema) => {
        for (const each of node['x-kubernetes-validations'] ?? []) rules.add(`${crd.spec.names.kind}: ${each.message}`);
        for (const child of Object.values(node.properties ?? {})) walk(child);
        if (node.items) walk(node.items);
        if (typeof node.additionalProperties === 'object') walk(node.additionalProperties);
      };
      walk(schema.properties!['spec']!);
    }
  }
  return { schemas, rules };
}

function corpusObjects(): { source: string; object: Json }[] {
  const files = [join(corpusDir, 'base.yaml'), ...readdirSync(join(corpusDir, 'tests')).map((name) => join(corpusDir, 'tests', name))];
  const out: { source: string; object: Json }[] = [];
  for (const file of files) {
    for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const object = document.toJS() as Json | null;
      if (object && typeof object['apiVersion'] === 'string' && object['apiVersion'].startsWith(`${GATEWAY_GROUP}/`)) out.push({ source: file, object });
    }
  }
  return out;
}

// Seeds of our own, each reaching rules no corpus manifest is near (the variants then break them).
const matches = (count: number) => Array.from({ length: count }, (_, position) => ({ path: { type: 'PathPrefix', value: `/m${position}` } }));
const grpcMatches = (count: number) => Array.from({ length: count }, (_, position) => ({ method: { service: 'echo.Echo', method: `M${position}` } }));
const gatewayRef = { name: 'gw', sectionName: 'a' };
const SEEDS: Json[] = [
  { apiVersion: `${GATEWAY_GROUP}/v1`, kind: 'GatewayClass', metadata: { name: 'seed' }, spec: { controllerName: 'tendril.io/gateway-controller', description: 'seed' } },
  {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'BackendTLSPolicy',
    metadata: { name: 'seed', namespace: 'default' },
    spec: {
      targetRefs: [{ group: '', kind: 'Service', name: 'a', sectionName: 'https' }],
      validation: { hostname: 'a.example.com', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }], subjectAltNames: [{ type: 'Hostname', hostname: 'a.example.com' }, { type: 'URI', uri: 'spiffe://example.com/a' }] },
    },
  },
  {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'Gateway',
    metadata: { name: 'seed', namespace: 'default' },
    spec: {
      gatewayClassName: 'tendril',
      addresses: [{ type: 'Hostname', value: 'gw.example.com' }, { type: 'IPAddress', value: '198.18.0.1' }],
      listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', hostname: 'a.example.com', tls: { mode: 'Terminate', certificateRefs: [{ name: 'cert' }] } }],
    },
  },
  {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'ListenerSet',
    metadata: { name: 'seed', namespace: 'default' },
    spec: { parentRef: { name: 'gw' }, listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', hostname: 'a.example.com', tls: { mode: 'Terminate', certificateRefs: [{ name: 'cert' }] } }] },
  },
  {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: { name: 'seed', namespace: 'default' },
    spec: {
      parentRefs: [gatewayRef],
      rules: [
        {
          name: 'one',
          matches: matches(42),
          filters: [
            { type: 'RequestMirror', requestMirror: { backendRef: { name: 'mirror', port: 80 }, fraction: { numerator: 1, denominator: 10 } } },
            { type: 'ExternalAuth', externalAuth: { protocol: 'GRPC', backendRef: { name: 'auth', port: 9000 }, grpc: { allowedHeaders: ['x-a'] } } },
          ],
          backendRefs: [{ name: 'web', port: 80 }],
          sessionPersistence: { type: 'Cookie', absoluteTimeout: '1h', cookie: { name: 'session', lifetimeType: 'Permanent' } },
          retry: { codes: [503], attempts: 2, backoff: '100ms' },
        },
        { name: 'two', matches: matches(42), filters: [{ type: 'ExternalAuth', externalAuth: { protocol: 'HTTP', backendRef: { name: 'auth', port: 9000 }, http: { path: '/check' } } }], backendRefs: [{ name: 'web', port: 80 }] },
        { name: 'three', matches: matches(42), backendRefs: [{ name: 'web', port: 80 }], sessionPersistence: { type: 'Header', header: { name: 'x-session' } } },
        {
          name: 'four',
          matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
          backendRefs: [{ name: 'web', port: 80, filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } }] }],
        },
        {
          name: 'five',
          matches: [{ path: { type: 'PathPrefix', value: '/moved' } }],
          backendRefs: [{ name: 'web', port: 80, filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/here' } } }] }],
        },
      ],
    },
  },
  {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'GRPCRoute',
    metadata: { name: 'seed', namespace: 'default' },
    spec: {
      parentRefs: [gatewayRef],
      rules: [
        { name: 'one', matches: grpcMatches(42), filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'mirror', port: 80 }, percent: 10 } }], backendRefs: [{ name: 'echo', port: 80 }] },
        { name: 'two', matches: grpcMatches(42), filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'mirror', port: 80 }, fraction: { numerator: 1 } } }], backendRefs: [{ name: 'echo', port: 80 }] },
        { name: 'three', matches: grpcMatches(42), backendRefs: [{ name: 'echo', port: 80 }], sessionPersistence: { type: 'Header', header: { name: 'x-session' } } },
        { name: 'four', backendRefs: [{ name: 'echo', port: 80 }], sessionPersistence: { type: 'Cookie', absoluteTimeout: '1h', cookie: { lifetimeType: 'Permanent' } } },
      ],
    },
  },
  ...['TCPRoute', 'UDPRoute'].map((kind) => ({
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind,
    metadata: { name: 'seed', namespace: 'default' },
    spec: { parentRefs: [gatewayRef, { name: 'gw', sectionName: 'b' }], rules: [{ name: 'one', backendRefs: [{ name: 'a', port: 53 }, { name: 'b', port: 53, weight: 2 }] }] },
  })),
  ...['TCPRoute', 'UDPRoute', 'TLSRoute'].map((kind) => ({
    apiVersion: `${GATEWAY_GROUP}/v1alpha2`,
    kind,
    metadata: { name: 'seed-alpha', namespace: 'default' },
    spec: { parentRefs: [{ name: 'gw', port: 443 }], rules: [{ name: 'one', backendRefs: [{ name: 'a', port: 53 }] }, { name: 'two', backendRefs: [{ name: 'b', port: 53 }] }] },
  })),
];

/** The refusals, pruned fields and stored object of one check; status aside (the controllers' part). */
function outcome(schema: StructuralSchema, object: Json, old?: Json) {
  const result = validateStructural(schema, object, old);
  delete result.object['status'];
  return result;
}

describe('Gateway API validation = an API server with the official CRDs', { skip }, () => {
  for (const channel of GATEWAY_API_CHANNELS) {
    it(`${channel} channel: serves the versions the CRDs serve`, () => {
      const reference = loadCrds(channel);
      const ours = gatewayApiKinds(channel).flatMap((entry) => Object.keys(entry.versions).map((version) => `${entry.kind}/${version}`));
      assert.deepEqual([...ours].sort(), [...reference.schemas.keys()].sort());
    });

    it(`${channel} channel: the corpus, our seeds and their one-field variants get the CRDs' refusals`, () => {
      const reference = loadCrds(channel);
      const triggered = new Set<string>();
      const seenLabels = new Map<string, number>();
      let checked = 0;
      let refused = 0;
      const mismatches: string[] = [];
      const compare = (what: string, object: Json, old?: Json) => {
        const version = String(object['apiVersion']).split('/')[1]!;
        const kind = String(object['kind']);
        const crd = reference.schemas.get(`${kind}/${version}`);
        const ours = gatewayApiKind(String(object['apiVersion']), kind, channel)?.versions[version];
        if (!crd || !ours) {
          if (crd || ours) mismatches.push(`${what}: served by ${crd ? 'the CRD' : 'us'} only`);
          return;
        }
        checked++;
        const expected = outcome(crd, object, old);
        const actual = outcome(ours, object, old);
        if (expected.errors.length > 0) refused++;
        for (const error of expected.errors) for (const rule of reference.rules) if (rule.startsWith(`${kind}: `) && error.endsWith(`: ${rule.slice(kind.length + 2)}`)) triggered.add(rule);
        try {
          assert.deepEqual(actual.errors, expected.errors);
          assert.deepEqual(actual.pruned, expected.pruned);
          assert.deepEqual(actual.object, expected.object);
        } catch (error) {
          mismatches.push(`${what}: ${(error as Error).message.slice(0, 600)}`);
        }
      };
      const objects = [...SEEDS.map((object) => ({ source: 'seed', object })), ...corpusObjects()];
      for (const { source, object } of objects) {
        const name = `${source} ${String(object['kind'])}/${String((object['metadata'] as Json)?.['name'])}`;
        compare(name, object);
        const version = String(object['apiVersion']).split('/')[1]!;
        const crd = reference.schemas.get(`${String(object['kind'])}/${version}`);
        if (!crd) continue;
        for (const variant of variantsOf(object, crd)) {
          // one variant per kind, schema path and mutation from the corpus, which repeats itself; two from our seeds (first)
          const label = `${String(object['kind'])}/${version} ${variant.label}`;
          const seen = seenLabels.get(label) ?? 0;
          if (seen >= (source === 'seed' ? 2 : 1)) continue;
          seenLabels.set(label, seen + 1);
          compare(`${name} [${variant.label}]`, variant.object);
          // an update from the original: transition rules (oldSelf) run
          if (object['kind'] === 'GatewayClass') compare(`${name} [update: ${variant.label}]`, variant.object, object);
        }
      }
      assert.deepEqual(mismatches, [], `${mismatches.length} of ${checked} checks differ`);
      assert.ok(refused > 1000, `only ${refused} of ${checked} objects refused: the variants do not break enough`);
      const untouched = [...reference.rules].filter((rule) => !triggered.has(rule)).sort();
      assert.deepEqual(untouched, [], 'every CEL rule of the CRDs is broken by some variant');
    });
  }
});
