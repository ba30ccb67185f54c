/**
 * The Gateway API features Tendril claims: SUPPORTED_FEATURES of @tendril/translation (feature strings
 * such as `Gateway`, `HTTPRoute`), or none while translation does not export it; and the list of them
 * that docs/features.md holds between the conformance-features markers.
 */
export async function claimedFeatures(): Promise<Set<string>> {
  const translation = (await import('@tendril/translation')) as unknown as { SUPPORTED_FEATURES?: readonly string[] };
  return new Set(translation.SUPPORTED_FEATURES ?? []);
}

/** The document that lists the claimed features, relative to the repository's root. */
export const FEATURE_LIST_DOC = 'docs/features.md';
export const LIST_START = '<!-- conformance-features:start -->';
export const LIST_END = '<!-- conformance-features:end -->';

/** The markdown line for a set of claimed features. */
export function featureListMarkdown(features: Iterable<string>): string {
  const sorted = [...features].sort();
  return sorted.length ? sorted.map((f) => `\`${f}\``).join(', ') : 'none yet';
}

/** The list a document holds between the markers (undefined without markers). */
export function documentFeatureList(text: string): string | undefined {
  const start = text.indexOf(LIST_START);
  const end = text.indexOf(LIST_END);
  return start < 0 || end < start ? undefined : text.slice(start + LIST_START.length, end).trim();
}

/** The document with its list replaced. */
export function withFeatureList(text: string, list: string): string {
  if (documentFeatureList(text) === undefined) throw new Error(`${FEATURE_LIST_DOC} has no ${LIST_START} ... ${LIST_END} markers`);
  return `${text.slice(0, text.indexOf(LIST_START) + LIST_START.length)}\n${list}\n${text.slice(text.indexOf(LIST_END))}`;
}
