/**
 * Request and response header changes: set (overwrite), add (append), remove. Values are literal:
 * a `%` is escaped, since Envoy's header formatter reads it as the start of a command.
 */
import type { HeaderModifierIR } from '@tendril/model';
import { literalHeaderValue } from '../../envoy-checks.js';
import type { Resource } from '../cluster.js';
import type { RouteFeature } from './feature.js';

export const withHeaderModifiers = {
  name: 'header-modifiers',
  apply(route, rule) {
    let out = route;
    if (rule.requestHeaders) out = { ...out, ...toHeaderChanges('request', rule.requestHeaders) };
    if (rule.responseHeaders) out = { ...out, ...toHeaderChanges('response', rule.responseHeaders) };
    return out;
  },
} satisfies RouteFeature;

/** Envoy's `<direction>HeadersToAdd` / `<direction>HeadersToRemove` for one modifier (routes and weighted clusters alike). */
export function toHeaderChanges(direction: 'request' | 'response', modifier: HeaderModifierIR): Resource {
  const out: Resource = {};
  const options = [
    ...modifier.set.map((header) => ({ header: { key: header.name, value: literalHeaderValue(header.value) }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
    ...modifier.add.map((header) => ({ header: { key: header.name, value: literalHeaderValue(header.value) }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' })),
  ];
  if (options.length) out[`${direction}HeadersToAdd`] = options;
  if (modifier.remove.length) out[`${direction}HeadersToRemove`] = [...modifier.remove];
  return out;
}
