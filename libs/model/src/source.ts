/** Which Kubernetes object an IR item came from, so that every error can name it. */
export interface SourceObject {
  kind: string;
  /** undefined for cluster-scoped objects */
  namespace?: string;
  name: string;
}

/** `namespace/Kind/name` (`Kind/name` when cluster-scoped): how errors and logs name an object. */
export function describeSource(source: SourceObject): string {
  return source.namespace === undefined ? `${source.kind}/${source.name}` : `${source.namespace}/${source.kind}/${source.name}`;
}
