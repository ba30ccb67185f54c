/**
 * Matching precedence among the rules of every route attached to one listener, as the Gateway API
 * defines it (HTTPRouteRule): the route's matching hostname (exact before wildcard, longer first),
 * then an Exact path, then the longest prefix (regular expressions between the two, as Envoy Gateway
 * does; the spec leaves them to the implementation), then a method match, then the most header
 * matches, then the most query parameter matches; then the oldest route (creationTimestamp), then
 * namespace/name alphabetically, then rule and match order.
 */
import type { RouteMatchView } from '../../kube/routes.js';
import { compare } from '../../problems.js';
import { compareHostSpecificity } from './hostnames.js';

export interface RankedMatch {
  /** The hostname (intersection) the route is served under here; '' for any. */
  host: string;
  match: RouteMatchView;
  creationTimestamp: string;
  namespace: string;
  name: string;
  ruleIndex: number;
  matchIndex: number;
}

const PATH_RANK: Record<RouteMatchView['path']['type'], number> = { Exact: 0, RegularExpression: 1, PathPrefix: 2, StringPrefix: 2 };

export function compareMatches(a: RankedMatch, b: RankedMatch): number {
  return (
    compareHostSpecificity(a.host, b.host) ||
    PATH_RANK[a.match.path.type] - PATH_RANK[b.match.path.type] ||
    prefixLength(b.match) - prefixLength(a.match) ||
    (a.match.method ? 0 : 1) - (b.match.method ? 0 : 1) ||
    b.match.headers.length - a.match.headers.length ||
    b.match.queryParams.length - a.match.queryParams.length ||
    compareTimestamps(a.creationTimestamp, b.creationTimestamp) ||
    compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`) ||
    a.ruleIndex - b.ruleIndex ||
    a.matchIndex - b.matchIndex
  );
}

/** Characters of a prefix (trailing slashes do not count: `/foo/` and `/foo` match the same paths). */
function prefixLength(match: RouteMatchView): number {
  if (match.path.type === 'Exact') return 0;
  return match.path.type === 'PathPrefix' ? match.path.value.replace(/\/+$/, '').length : match.path.value.length;
}

/** RFC 3339 timestamps compare as strings when both are in the API server's form; missing ones last. */
function compareTimestamps(a: string, b: string): number {
  if (a === b) return 0;
  if (!a) return 1;
  if (!b) return -1;
  const [x, y] = [Date.parse(a), Date.parse(b)];
  if (Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
  return compare(a, b);
}
