// Envoy's own rules: every resource in every golden output passes the protoc-gen-validate rules of
// Envoy's protos (as shipped by @grpc/grpc-js-xds), encodes to protobuf, and passes the checks Envoy
// makes when it loads a configuration beyond those rules (restated below from Envoy's source, and
// independent of the translator's own checks): every safe_regex compiles with RE2, and no header change
// touches a pseudo-header or Host, carries NUL/CR/LF, or holds a `%` that is not a valid format command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { RE2JS } from 're2js';
import { encodeResource, validateResource } from '@tendril/envoy';
import { translate } from './index.js';
import { TEST_CLUSTER, goldenCases, manifestObjects } from './testing/golden.js';

const testdata = fileURLToPath(new URL('../testdata/', import.meta.url));

/**
 * What Envoy refuses when it loads a resource, past its protos' rules: RE2 compilation of every
 * `safe_regex` (common/regex.cc); header_parser.cc: `:`-prefixed and `host` headers may be neither
 * added nor removed (HeaderUtility::isModifiableHeader / isRemovableHeader), and a value is a format
 * string (`%%` a literal `%`, `%COMMAND%` or `%COMMAND(arg)%` a substitution, any other `%` an error);
 * HeaderValue's loose HTTP_HEADER_NAME/VALUE rules (no NUL, CR or LF).
 */
function envoyLoadProblems(value: unknown, at: string, out: string[]): string[] {
  if (Array.isArray(value)) {
    value.forEach((item, i) => envoyLoadProblems(item, `${at}[${i}]`, out));
    return out;
  }
  if (typeof value !== 'object' || value === null) return out;
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    const path = `${at}.${key}`;
    if ((key === 'safeRegex' || key === 'safe_regex') && typeof field === 'object' && field !== null) {
      const regex = (field as Record<string, unknown>)['regex'];
      if (typeof regex === 'string') {
        try {
          RE2JS.compile(regex);
        } catch (error) {
          out.push(`${path}: RE2 refuses "${regex}": ${(error as Error).message}`);
        }
      }
    }
    if (/HeadersToAdd$|headers_to_add$/.test(key) && Array.isArray(field)) {
      field.forEach((option, i) => {
        const header = ((option as Record<string, unknown>)['header'] ?? {}) as Record<string, unknown>;
        const name = String(header['key'] ?? '');
        const text = String(header['value'] ?? '');
        if (name.startsWith(':') || name.toLowerCase() === 'host') out.push(`${path}[${i}]: :-prefixed or host headers may not be modified (${name})`);
        if (/[\0\r\n]/.test(name) || /[\0\r\n]/.test(text)) out.push(`${path}[${i}]: header ${JSON.stringify(name)} has NUL, CR or LF`);
        if (text.replace(/%%/g, '').replace(/%[A-Z_0-9]+(\([^)]*\))?(:\d+)?%/g, '').includes('%')) out.push(`${path}[${i}]: invalid header format string ${JSON.stringify(text)}`);
      });
    }
    if (/HeadersToRemove$|headers_to_remove$/.test(key) && Array.isArray(field)) {
      for (const name of field) if (typeof name === 'string' && (name.startsWith(':') || name.toLowerCase() === 'host')) out.push(`${path}: :-prefixed or host headers may not be removed (${name})`);
    }
    envoyLoadProblems(field, path, out);
  }
  return out;
}

for (const golden of goldenCases(testdata)) {
  test(`Envoy accepts every resource of ${golden.name}`, () => {
    const output = translate({ cluster: TEST_CLUSTER, objects: manifestObjects(golden.input) });
    const problems: string[] = [];
    for (const { type, name, resource } of output.xds) {
      for (const problem of validateResource(type, resource)) problems.push(`${type} ${name}: ${problem}`);
      envoyLoadProblems(resource, `${type} ${name}`, problems);
      if (problems.length === 0) encodeResource(type, resource);
    }
    assert.deepEqual(problems, []);
  });
}

test("Envoy's load checks catch what the translator must keep out", () => {
  const route = {
    name: 'r',
    virtualHosts: [
      {
        name: 'v',
        domains: ['*'],
        routes: [{ match: { safeRegex: { regex: '/(?=x)' } }, route: { cluster: 'c' }, requestHeadersToAdd: [{ header: { key: 'Host', value: 'a' } }, { header: { key: 'x-pct', value: '100%' } }], responseHeadersToRemove: [':status'] }],
      },
    ],
  };
  const problems = envoyLoadProblems(route, 'route r', []);
  assert.equal(problems.length, 4, problems.join('\n'));
});

test('rules with bad regexes or header changes are reported on their route and never published', () => {
  const input = readFileSync(`${testdata}httproute-invalid-rules.in.yaml`, 'utf8');
  const output = translate({ cluster: TEST_CLUSTER, objects: manifestObjects(input) });
  const problems = output.xds.flatMap(({ type, name, resource }) => envoyLoadProblems(resource, `${type} ${name}`, []));
  assert.deepEqual(problems, []);
  const published = JSON.stringify(output.xds.map((item) => item.resource));
  for (const never of ['(?=lookahead)', '[unclosed', 'X-Evil', 'X Space', 'a++', 'echo(']) assert.ok(!published.includes(never), `${never} reached Envoy`);
  const parents = (name: string) => {
    const entry = output.statuses.find(({ key }) => key.endsWith(`.infra.${name}`))!;
    return (entry.status.status as { parents: { conditions: { type: string; status: string; reason: string; message: string }[] }[] }).parents[0]!.conditions;
  };
  const partly = parents('partly-invalid');
  assert.deepEqual(partly.map((c) => [c.type, c.status, c.reason]), [
    ['Accepted', 'True', 'Accepted'],
    ['ResolvedRefs', 'True', 'ResolvedRefs'],
    ['PartiallyInvalid', 'True', 'UnsupportedValue'],
  ]);
  const message = partly[2]!.message;
  assert.match(message, /^Dropped Rules /);
  for (const named of ['spec.rules[1].matches[0].path.value', 'spec.rules[2].matches[0].headers[0].value', 'spec.rules[3].matches[0].queryParams[0].value', 'header "Host" may not be modified', 'pseudo-header ":status"', '"X Space" is not a valid HTTP header name', 'spec.rules[9].filters[1]']) {
    assert.ok(message.includes(named), `${named} missing from: ${message}`);
  }
  assert.ok(!message.includes('spec.rules[0]'), 'the valid rule stands');
  assert.deepEqual(parents('all-invalid').slice(0, 1).map((c) => [c.type, c.status, c.reason]), [['Accepted', 'False', 'UnsupportedValue']]);
  assert.deepEqual(parents('incompatible').slice(0, 1).map((c) => [c.type, c.status, c.reason]), [['Accepted', 'False', 'IncompatibleFilters']]);
  assert.deepEqual(parents('grpc-regex').map((c) => c.type), ['Accepted', 'ResolvedRefs', 'PartiallyInvalid']);
});
