/**
 * The Gateway API features Tendril claims: SUPPORTED_FEATURES of @tendril/translation (feature strings
 * such as `Gateway`, `HTTPRoute`), or none while translation does not export it; and README's list of
 * them, between the conformance-features markers.
 */
export async function claimedFeatures(): Promise<Set<string>> {
  const translation = (await import('@tendril/translation')) as unknown as { SUPPORTED_FEATURES?: readonly string[] };
  return new Set(translation.SUPPORTED_FEATURES ?? []);
}

export const README_START = '<!-- conformance-features:start -->';
export const README_END = '<!-- conformance-features:end -->';

/** The README line for a set of claimed features. */
export function featureListMarkdown(features: Iterable<string>): string {
  const sorted = [...features].sort();
  return sorted.length ? sorted.map((f) => `\`${f}\``).join(', ') : 'none yet';
}

/** The list README holds between the markers (undefined without markers). */
export function readmeFeatureList(text: string): string | undefined {
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  return start < 0 || end < start ? undefined : text.slice(start + README_START.length, end).trim();
}

/** README with its list replaced. */
export function withFeatureList(text: string, list: string): string {
  if (readmeFeatureList(text) === undefined) throw new Error(`README.md has no ${README_START} ... ${README_END} markers`);
  return `${text.slice(0, text.indexOf(README_START) + README_START.length)}\n${list}\n${text.slice(text.indexOf(README_END))}`;
}
