/**
 * Server-side apply, label selectors and owner-reference garbage collection for the test API server
 * (kube-api-server.ts): the subset Tendril's owned objects need, each behaviour as the real
 * kube-apiserver and kube-controller-manager have it, and what is left out said so.
 *
 * Server-side apply (PATCH, Content-Type application/apply-patch+yaml, ?fieldManager=…&force=…):
 * - reproduced: create when the object does not exist; otherwise the applied configuration is merged
 *   into the live object (maps merged key by key, so fields set by others — spec.clusterIP the server
 *   allocated, status written by a load-balancer controller — stay); fields this manager applied
 *   before and no longer applies are removed; fieldManager is required (422 without it); the status
 *   of the main resource is never changed by an apply; a body whose apiVersion/kind disagree with the
 *   URL is refused (400).
 * - not reproduced: lists are replaced whole (the real server merges lists whose schema declares
 *   merge keys, e.g. ports by port/protocol, and keeps other managers' items); ownership is kept per
 *   manager in memory, not in metadata.managedFields, so there are no conflicts between managers and
 *   `force` changes nothing (the real server answers 409 when another manager owns an applied field
 *   and force is false); no YAML bodies (JSON, which is YAML, only).
 *
 * Label selectors on list (?labelSelector=): `key=value`, `key==value`, `key!=value`, `key` and `!key`
 * terms joined by commas, as the real server reads equality- and existence-based selectors; set-based
 * (`in`, `notin`) are not reproduced.
 *
 * Garbage collection: the real garbage collector (kube-controller-manager) deletes, asynchronously and
 * some time after the owner went, every object all of whose ownerReferences name objects (by uid) that
 * no longer exist — including objects created with an owner that never existed. Reproduced: a
 * collection pass runs `gcDelayMs` after any delete or create (background propagation). Not
 * reproduced: foreground deletion (deletionTimestamp and finalizers on the owner while
 * blockOwnerDeletion dependents go), orphan propagation, and owners in other namespaces being ignored.
 */

type Json = Record<string, unknown>;

function isMap(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `applied` merged into `live`: maps key by key, anything else (lists too) replaced. */
export function mergeApplied(live: unknown, applied: unknown): unknown {
  if (!isMap(applied) || !isMap(live)) return structuredClone(applied);
  const out: Json = { ...live };
  for (const [key, value] of Object.entries(applied)) out[key] = mergeApplied(live[key], value);
  return out;
}

/** Removes from `object` what `before` (this manager's last apply) set and `now` (its new apply) does not. */
export function pruneUnapplied(object: Json, before: unknown, now: unknown): void {
  if (!isMap(before)) return;
  for (const [key, value] of Object.entries(before)) {
    if (!isMap(now) || !(key in now)) delete object[key];
    else if (isMap(value) && isMap(object[key])) pruneUnapplied(object[key] as Json, value, now[key]);
  }
}

/**
 * The object after `manager` applies `applied` over `live` (undefined: created), given what the
 * manager applied last time (`previous`). Status is the live object's; metadata identity fields
 * (uid, resourceVersion, creationTimestamp, generation) are left to the server's stamping.
 */
export function serverSideApply(live: Json | undefined, applied: Json, previous: Json | undefined): Json {
  const { status: _ignored, ...configuration } = applied;
  const merged = mergeApplied(live ?? {}, configuration) as Json;
  if (previous) pruneUnapplied(merged, stripIdentity(previous), stripIdentity(configuration));
  if (live?.['status'] !== undefined) merged['status'] = live['status'];
  else delete merged['status'];
  return merged;
}

function stripIdentity(object: Json): Json {
  const metadata = { ...((object['metadata'] as Json | undefined) ?? {}) };
  delete metadata['name'];
  delete metadata['namespace'];
  const { apiVersion: _a, kind: _k, ...rest } = object;
  return { ...rest, metadata };
}

/** Whether `object`'s labels match a label selector (see above). */
export function matchesLabels(object: { metadata: Json }, selector: string | undefined | null): boolean {
  if (!selector) return true;
  const labels = (object.metadata['labels'] as Record<string, string> | undefined) ?? {};
  return selector
    .split(',')
    .map((term) => term.trim())
    .filter((term) => term !== '')
    .every((term) => {
      if (term.includes('!=')) {
        const [key, value] = term.split('!=') as [string, string];
        return labels[key.trim()] !== value.trim();
      }
      if (term.includes('=')) {
        const [key, value] = term.split(/==?/) as [string, string];
        return labels[key.trim()] === value.trim();
      }
      if (term.startsWith('!')) return !(term.slice(1) in labels);
      return term in labels;
    });
}

/** The uids an object's ownerReferences name. */
export function ownerUids(object: { metadata: Json }): string[] {
  const references = object.metadata['ownerReferences'];
  return Array.isArray(references) ? references.map((reference) => (reference as { uid?: unknown }).uid).filter((uid): uid is string => typeof uid === 'string') : [];
}
