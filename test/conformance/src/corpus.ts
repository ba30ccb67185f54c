/**
 * The Gateway API conformance corpus beside the repository (../shared/conformance, or
 * TENDRIL_CONFORMANCE_DIR): base.yaml, tests/NAME.yaml, cases.json and runtime-resources.json, as
 * described in its README. Types here cover the fields the harness reads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export function corpusDir(): string | undefined {
  const dir = process.env['TENDRIL_CONFORMANCE_DIR'] ?? join(repoRoot, '..', 'shared', 'conformance');
  return existsSync(join(dir, 'cases.json')) ? dir : undefined;
}

export interface Ref {
  namespace?: string | null;
  name: string;
}

export interface ConditionExpectation {
  type: string;
  status: string | null;
  reason: string | null;
}

/** One entry of `preconditions` or `cases`: its `check` says which other fields it has. */
export interface Check {
  check: string;
  title?: string;
  subtest?: string;
  gateway?: Ref;
  note?: string;
  [field: string]: unknown;
}

export interface ConformanceTest {
  name: string;
  description: string;
  features: string[];
  skipIfSupported?: string[];
  provisional?: boolean;
  manifests: string;
  gateway: Ref | null;
  notes?: string;
  preconditions: Check[];
  cases: Check[];
}

export interface Corpus {
  dir: string;
  tests: ConformanceTest[];
  base: string;
  runtime: RuntimeResources;
  manifests(test: ConformanceTest): string;
}

export interface RuntimeResource {
  kind: 'Secret' | 'ConfigMap';
  namespace: string;
  name: string;
  ca?: string;
  certificate?: { usage: 'serverAuth' | 'clientAuth'; hosts: string[]; issuer: string };
}

export interface RuntimeResources {
  resources: RuntimeResource[];
}

export function loadCorpus(dir: string): Corpus {
  return {
    dir,
    tests: JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as ConformanceTest[],
    base: readFileSync(join(dir, 'base.yaml'), 'utf8'),
    runtime: JSON.parse(readFileSync(join(dir, 'runtime-resources.json'), 'utf8')) as RuntimeResources,
    manifests: (test) => readFileSync(join(dir, test.manifests), 'utf8'),
  };
}

/** Feature constant (`SupportHTTPRoute`) -> the string implementations claim (`HTTPRoute`). */
export function featureName(constant: string): string {
  return constant.replace(/^Support/, '');
}

/**
 * Kinds Tendril does not implement: a test that needs one (by feature or by name) is not claimed and
 * not run (none left of this corpus; mesh tests are not in it).
 */
const UNIMPLEMENTED_FEATURES: string[] = [];

export function unimplementedKind(test: ConformanceTest): string | undefined {
  const features = test.features.map(featureName);
  return UNIMPLEMENTED_FEATURES.find((kind) => features.includes(kind) || test.name.startsWith(kind));
}

/** A test is claimed when every feature it needs is claimed and no skipIfSupported feature is. */
export function isClaimed(test: ConformanceTest, claimed: ReadonlySet<string>): boolean {
  if (unimplementedKind(test)) return false;
  if ((test.skipIfSupported ?? []).some((f) => claimed.has(featureName(f)))) return false;
  return test.features.every((f) => claimed.has(featureName(f)));
}
