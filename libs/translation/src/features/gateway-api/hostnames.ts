/**
 * Hostname rules of the Gateway API: a wildcard `*.example.com` stands for one or more labels in front
 * of `.example.com` (never `example.com` itself); a listener without a hostname takes any. A route's
 * hostnames are intersected with its listener's: the more specific of two matching names is kept.
 */

/** Whether `host` (exact or wildcard) is covered by `pattern` (exact, wildcard, or '' / '*' for any). */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '' || pattern === '*') return true;
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1); // `.example.com`
  if (host.startsWith('*.')) return host.slice(1).endsWith(suffix);
  return host.endsWith(suffix) && host.length > suffix.length;
}

/**
 * The names under which a route is served on a listener: the listener's hostname when the route has
 * none, else each route hostname intersected with the listener's (the more specific one of a pair).
 * Empty: no intersection (NoMatchingListenerHostname). '' stands for any host.
 */
export function intersectHostnames(listener: string, route: readonly string[]): string[] {
  if (route.length === 0) return [listener];
  const out = new Set<string>();
  for (const host of route) {
    if (hostMatches(listener, host)) out.add(host);
    else if (hostMatches(host, listener)) out.add(listener);
  }
  return [...out].sort();
}

/**
 * Sort key of a hostname by specificity, most specific first: exact names before wildcards, longer
 * before shorter, any host ('') last; ties by name.
 */
export function compareHostSpecificity(a: string, b: string): number {
  const rank = (host: string) => (host === '' || host === '*' ? 2 : host.startsWith('*.') ? 1 : 0);
  return rank(a) - rank(b) || b.length - a.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The most specific of several patterns (listener hostnames) that cover `host`, or undefined. */
export function mostSpecificMatch(patterns: readonly string[], host: string): string | undefined {
  return patterns.filter((pattern) => hostMatches(pattern, host)).sort(compareHostSpecificity)[0];
}
