/**
 * Adds the workload identity Secrets to a translation's output, in XDS_TYPE_ORDER then name order.
 * When they changed since the last publish the output is published whole (no patch), so the
 * publisher diffs every resource rather than only what the translation replaced.
 */
import { XDS_TYPE_ORDER, type TranslationOutput, type XdsOutput } from '@tendril/translation';

export function withIdentitySecrets(output: TranslationOutput, secrets: XdsOutput[], changed: boolean): TranslationOutput {
  if (secrets.length === 0 && !changed) return output;
  const names = new Set(secrets.map((secret) => secret.name));
  const order = (item: XdsOutput) => XDS_TYPE_ORDER.indexOf(item.type);
  const xds = [...output.xds.filter((item) => !(item.type === 'secret' && names.has(item.name))), ...secrets].sort((a, b) => order(a) - order(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const merged: TranslationOutput = { ...output, xds };
  if (changed) delete merged.patch;
  return merged;
}
