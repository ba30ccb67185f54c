// Lint rules for the whole workspace. The module-boundary rule is the architecture in code:
// apps never import apps; model and translation stay pure (no Nest, NATS, gRPC, k8s client, protobuf);
// only platform opens connections.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const impure = ['@nestjs/*', 'nats', '@grpc/*', '@kubernetes/*', 'typeorm', 'sqlite3', 'pg', 'express', 'protobufjs', 'protobufjs/*', 'node:http', 'node:fs', 'node:child_process'];
const noNestNoNats = ['@nestjs/*', 'nats', '@kubernetes/*', 'typeorm', 'express'];

// Production code may use test support nowhere; test files may use it everywhere.
const constraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:contract', 'type:traffic', 'type:kube', 'type:model', 'type:translation', 'type:policy', 'type:identity', 'type:xds', 'type:envoy', 'type:datapath', 'type:platform', 'type:util'] },
  { sourceTag: 'type:model', onlyDependOnLibsWithTags: ['type:model', 'type:util'], bannedExternalImports: impure },
  // translation reads the contract's object and LB types and key parsers (the contract does no I/O)
  { sourceTag: 'type:translation', onlyDependOnLibsWithTags: ['type:model', 'type:contract', 'type:util'], bannedExternalImports: impure },
  // policy: pure compilation of network policies (objects in, identities and rules out)
  { sourceTag: 'type:policy', onlyDependOnLibsWithTags: ['type:util'], bannedExternalImports: impure },
  // identity: the CA and workload certificates (crypto, no connections, no files)
  { sourceTag: 'type:identity', onlyDependOnLibsWithTags: ['type:util'], bannedExternalImports: [...noNestNoNats, '@grpc/*', 'node:fs', 'node:http'] },
  { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:util'], bannedExternalImports: impure },
  // traffic: pure aggregation of access logs and flows for the metrics app
  { sourceTag: 'type:traffic', onlyDependOnLibsWithTags: ['type:contract', 'type:util'], bannedExternalImports: impure },
  { sourceTag: 'type:kube', onlyDependOnLibsWithTags: ['type:contract', 'type:util'], bannedExternalImports: impure },
  { sourceTag: 'type:envoy', onlyDependOnLibsWithTags: ['type:contract', 'type:util'], bannedExternalImports: noNestNoNats },
  { sourceTag: 'type:xds', onlyDependOnLibsWithTags: ['type:envoy', 'type:contract', 'type:util'], bannedExternalImports: noNestNoNats },
  { sourceTag: 'type:datapath', onlyDependOnLibsWithTags: ['type:contract', 'type:util'], bannedExternalImports: noNestNoNats },
  { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:contract', 'type:envoy', 'type:util'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contract', 'type:envoy', 'type:platform', 'type:util'] },
  { sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:contract', 'type:platform', 'type:envoy', 'type:xds', 'type:traffic', 'type:util'] },
  // system tests (test/system, test/conformance); the conformance harness reads the features translation claims;
  // the two-modes test plays an API server's defaulting and an LB provider with libs/kube (pure)
  { sourceTag: 'type:system-test', onlyDependOnLibsWithTags: ['type:contract', 'type:envoy', 'type:testing', 'type:translation', 'type:kube', 'type:util'] },
];
const boundaries = (depConstraints) => ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints }];
const inTests = constraints.map((c) => ({
  ...c,
  // translation's tests check their output against Envoy's own rules (libs/envoy)
  onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing', ...(c.sourceTag === 'type:translation' ? ['type:envoy'] : [])],
  // tests of pure libs may read their golden files
  ...(c.bannedExternalImports ? { bannedExternalImports: c.bannedExternalImports.filter((name) => !name.startsWith('node:')) } : {}),
}));

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/build/**', '.nx/**', '.data/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    plugins: { '@nx': nx },
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': boundaries(constraints),
    },
  },
  // No import cycles inside a lib: each module's dependencies form a tree readers can follow upward
  // (type-only imports are not counted by the rule; keep those acyclic by hand).
  {
    files: ['libs/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'libs/*/tsconfig.json', noWarnOnMultipleProjects: true })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['**/*.test.ts', '**/testing/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(inTests), '@typescript-eslint/no-explicit-any': 'off' },
  },
];
