/**
 * The Gateway API features Tendril claims: SUPPORTED_FEATURES of @tendril/translation (feature strings
 * such as `Gateway`, `HTTPRoute`), or none while translation does not export it.
 */
export async function claimedFeatures(): Promise<Set<string>> {
  const translation = (await import('@tendril/translation')) as unknown as { SUPPORTED_FEATURES?: readonly string[] };
  return new Set(translation.SUPPORTED_FEATURES ?? []);
}
