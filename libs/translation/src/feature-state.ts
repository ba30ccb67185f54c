/**
 * A name for state a feature keeps from one translation to the next (with the caller's
 * TranslationMemo). The feature that owns the state makes the token; the memo stores values by token
 * without knowing their types, so nothing below the features has to import them.
 */
export interface FeatureState<T> {
  readonly name: string;
  /** Never set: carries the type of the state. */
  readonly type?: T;
}

export function featureState<T>(name: string): FeatureState<T> {
  return { name };
}
