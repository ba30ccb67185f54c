/** Path and Host rewrites before forwarding. */
import type { PathMatchIR } from '@tendril/model';
import { forwardAction, type RouteFeature } from './feature.js';
import type { Resource } from '../cluster.js';

export const withRewrites = {
  name: 'rewrites',
  apply(route, rule) {
    const action = forwardAction(route);
    if (!action || rule.action.kind !== 'forward' || !rule.action.rewrite) return route;
    const rewrite = rule.action.rewrite;
    let out: Resource = { ...action };
    if (rewrite.pathPrefix !== undefined) out = { ...out, ...toPrefixReplacement(rule.match.path, rewrite.pathPrefix) };
    if (rewrite.fullPath !== undefined) out['regexRewrite'] = { pattern: { regex: '^/.*$' }, substitution: rewrite.fullPath };
    if (rewrite.hostname !== undefined) out['hostRewriteLiteral'] = rewrite.hostname;
    return { ...route, route: out };
  },
} satisfies RouteFeature;

/**
 * Replacing the matched prefix (routes' prefix_rewrite, redirects' prefix_rewrite) the way Gateway
 * API's ReplacePrefixMatch means it for whole-segment prefixes: `/foo` -> `/bar` turns `/foo/x` into
 * `/bar/x`, and `/foo` -> `/` turns `/foo/x` into `/x` (not `//x`), which needs a regex rewrite.
 */
export function toPrefixReplacement(path: PathMatchIR, replacement: string): Resource {
  if (path.kind !== 'segment-prefix') return { prefixRewrite: replacement };
  const prefix = path.value.replace(/\/+$/, '');
  const target = replacement.replace(/\/+$/, '');
  if (prefix === '') return target === '' ? { prefixRewrite: '/' } : { regexRewrite: { pattern: { regex: '^/' }, substitution: `${target}/` } };
  if (target === '') return { regexRewrite: { pattern: { regex: `^${escapeRegex(prefix)}/*` }, substitution: '/' } };
  return { prefixRewrite: target };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
