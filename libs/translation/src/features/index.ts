/** Every translation feature, in the order they run. Later features may read what earlier ones built. */
import type { Feature } from '../feature.js';
import { servicesFeature } from './services.js';

export const FEATURES: readonly Feature[] = [servicesFeature];
