/** Route matches: path (exact, whole-segment prefix, prefix, RE2 regex), headers, query parameters, method, gRPC. */
import type { HeaderMatchIR, PathMatchIR } from '@tendril/model';
import type { Resource } from '../cluster.js';
import type { RouteFeature } from './feature.js';

export const withMatch = {
  name: 'match',
  apply(route, rule) {
    const match: Resource = toPathMatcher(rule.match.path);
    const headers = (rule.match.headers ?? []).map(toHeaderMatcher);
    if (rule.match.method) headers.push(toHeaderMatcher({ name: ':method', kind: 'exact', value: rule.match.method }));
    if (headers.length) match['headers'] = headers;
    if (rule.match.queryParameters?.length) {
      match['queryParameters'] = rule.match.queryParameters.map((query) => ({
        name: query.name,
        stringMatch: query.kind === 'exact' ? { exact: query.value } : { safeRegex: { regex: query.value } },
      }));
    }
    if (rule.match.grpc) match['grpc'] = {};
    return { ...route, match };
  },
} satisfies RouteFeature;

export function toPathMatcher(path: PathMatchIR): Resource {
  switch (path.kind) {
    case 'exact':
      return { path: path.value };
    case 'prefix':
      return { prefix: path.value };
    case 'regex':
      return { safeRegex: { regex: path.value } };
    case 'segment-prefix': {
      // Envoy's path_separated_prefix refuses a trailing slash; `/` itself matches everything.
      const trimmed = path.value.replace(/\/+$/, '');
      return trimmed === '' ? { prefix: '/' } : { pathSeparatedPrefix: trimmed };
    }
  }
}

export function toHeaderMatcher(header: HeaderMatchIR): Resource {
  const out: Resource = { name: header.name };
  if (header.kind === 'present') out['presentMatch'] = true;
  else if (header.kind === 'exact') out['stringMatch'] = { exact: header.value ?? '' };
  else out['stringMatch'] = { safeRegex: { regex: header.value ?? '' } };
  if (header.invert) out['invertMatch'] = true;
  return out;
}
