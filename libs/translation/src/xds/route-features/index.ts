/** Envoy route features, applied in this order to every route (later ones refine the action earlier ones set). */
import { withAction } from './action.js';
import { withCors } from './cors.js';
import type { RouteFeature } from './feature.js';
import { withHeaderModifiers } from './header-modifiers.js';
import { withMatch } from './match.js';
import { withMirrors } from './mirrors.js';
import { withRetries } from './retries.js';
import { withRewrites } from './rewrites.js';
import { withSessionPersistence } from './session-persistence.js';
import { withTimeouts } from './timeouts.js';

export const ROUTE_FEATURES: readonly RouteFeature[] = [withMatch, withAction, withRewrites, withTimeouts, withRetries, withMirrors, withHeaderModifiers, withCors, withSessionPersistence];
export type { RouteFeature } from './feature.js';
