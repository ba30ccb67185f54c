/** Every translation feature, in the order they run. Later features may read what earlier ones built. */
import type { Feature } from '../context.js';
import type { ObjectQuery } from '../objects.js';
import { envoyConfigFeature } from './envoy-config.js';
import { gatewayApiFeature } from './gateway-api/index.js';
import { ingressFeature } from './ingress.js';
import { proxylessFeature } from './proxyless.js';
import { serviceL7Feature } from './service-l7.js';
import { servicesFeature } from './services.js';

export const FEATURES: readonly Feature[] = [servicesFeature, serviceL7Feature, proxylessFeature, ingressFeature, gatewayApiFeature, envoyConfigFeature];

/** The index queries the features ask (objects.ts ObjectQuery), and by name. */
export const QUERIES: readonly ObjectQuery[] = FEATURES.flatMap((feature) => feature.queries ?? []);
export const QUERY_BY_NAME: ReadonlyMap<string, ObjectQuery> = new Map(QUERIES.map((query) => [query.name, query]));
