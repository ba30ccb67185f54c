/** The translator's own settings (the platform reads the shared ones), from the environment. */
import { ConfigError, envInt } from '@tendril/platform';

export interface TranslatorConfig {
  /** TENDRIL_DEBOUNCE_MS: quiet time after a change before translating (default 50). */
  debounceMs: number;
  /** TENDRIL_DEBOUNCE_MAX_MS: longest a burst of changes may delay a translation (default 500). */
  debounceMaxMs: number;
  /** TENDRIL_RETRY_MS: wait before publishing again after NATS refused a write (default 1000). */
  retryMs: number;
}

export function readTranslatorConfig(): TranslatorConfig {
  const debounceMs = envInt('TENDRIL_DEBOUNCE_MS', 50, 0, 60000);
  const debounceMaxMs = envInt('TENDRIL_DEBOUNCE_MAX_MS', 500, 0, 600000);
  if (debounceMaxMs < debounceMs) throw new ConfigError(`TENDRIL_DEBOUNCE_MAX_MS=${debounceMaxMs} is below TENDRIL_DEBOUNCE_MS=${debounceMs}`);
  return { debounceMs, debounceMaxMs, retryMs: envInt('TENDRIL_RETRY_MS', 1000, 10, 600000) };
}
