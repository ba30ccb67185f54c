/**
 * Manifests as files hold them: multi-document YAML or JSON, `List` kinds unrolled. Each document
 * becomes either an accepted object (defaulted, with its contract key), a refusal naming the file, the
 * document, the object and the field, or a note saying why it is ignored (a kind Tendril does not
 * mirror, an empty file). Parsing has limits (file and document size, YAML aliases, nesting depth), and
 * one bad document, whatever throws while reading it, never hides the others.
 */
import { createHash } from 'node:crypto';
import { Composer, Parser, type Document } from 'yaml';
import { objectKey, withoutManagedFields, type KubeObject, type ObjectRef } from '@tendril/contract';
import { isMirroredObject, kindInfo, mirroredForm } from './kinds.js';
import { admitObject, DEFAULT_GATEWAY_API_CHANNEL } from './validate.js';
import type { GatewayApiChannel } from './gateway-api/index.js';
import { applyDefaults } from './defaults.js';
import { storedSizeProblem } from './object-size.js';

export interface ManifestObject {
  key: string;
  ref: ObjectRef;
  object: KubeObject;
  /** `file#document` (1-based document index). */
  source: string;
}

export interface ManifestError {
  /** `file#document` (1-based), or the file alone when the whole file is concerned. */
  source: string;
  /** The file, relative to the manifest folder. */
  file?: string;
  /** 1-based index of the document in the file, when one document is concerned. */
  document?: number;
  /** `namespace/Kind/name` when the document got that far. */
  object?: string;
  message: string;
  /**
   * `error`: refused; `ignored`: nothing wrong, but nothing (or not all) mirrored: a kind Tendril does
   * not read, an empty file, unknown fields an API server would drop.
   */
  severity?: 'error' | 'ignored';
}

export interface ParsedManifests {
  objects: ManifestObject[];
  /** Refused documents (severity `error`). */
  errors: ManifestError[];
  /** Documents and files read but not mirrored (severity `ignored`): a kind Tendril does not mirror, an empty file. */
  notes: ManifestError[];
  /** Documents Tendril does not mirror (Deployments, ..., ConfigMaps without `ca.crt`). */
  skipped: number;
}

export interface ManifestLimits {
  /** Largest file read at all, in bytes. */
  maxFileBytes: number;
  /** Largest document parsed, in characters of its text. */
  maxDocumentBytes: number;
  /** YAML aliases one document may resolve (the `yaml` package's alias-expansion guard). */
  maxAliasCount: number;
  /** Deepest nesting of maps and lists in one document. */
  maxDepth: number;
  /**
   * The Gateway API release channel whose CRDs standalone validation plays (TENDRIL_GATEWAY_API_CHANNEL);
   * absent: experimental, the superset.
   */
  gatewayApiChannel?: GatewayApiChannel;
}

export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = { maxFileBytes: 64 * 1024 * 1024, maxDocumentBytes: 16 * 1024 * 1024, maxAliasCount: 100, maxDepth: 128 };

export function describeObject(object: { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }, namespaced = true): string {
  const name = String(object.metadata?.name ?? '?');
  const kind = String(object.kind ?? '?');
  return namespaced ? `${String(object.metadata?.namespace ?? 'default')}/${kind}/${name}` : `${kind}/${name}`;
}

/** Decodes a file's bytes as text: UTF-8 (a BOM dropped) or UTF-16 with its BOM; anything else is refused. */
export function decodeManifestBytes(bytes: Uint8Array): { text: string } | { problem: string } {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return decodeWith('utf-16le', bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return decodeWith('utf-16be', bytes.subarray(2));
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  const decoded = decodeWith('utf-8', body);
  if ('text' in decoded && decoded.text.includes('\0')) return { problem: 'binary file: it holds NUL bytes, not YAML or JSON text' };
  return decoded;
}

function decodeWith(encoding: string, bytes: Uint8Array): { text: string } | { problem: string } {
  try {
    return { text: new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return { problem: `not ${encoding.toUpperCase()} text: it holds byte sequences that do not decode (manifests are UTF-8, or UTF-16 with a byte-order mark)` };
  }
}

/** A file's bytes as `parseManifests` reads them, with the file-level checks (size, encoding) first. */
export function parseManifestFile(bytes: Uint8Array, file: string, cluster: string, limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS): ParsedManifests {
  if (bytes.length > limits.maxFileBytes) {
    return { objects: [], notes: [], skipped: 0, errors: [{ source: file, file, severity: 'error', message: `file is ${bytes.length.toLocaleString('en-US')} bytes, over the limit of ${limits.maxFileBytes.toLocaleString('en-US')}` }] };
  }
  const decoded = decodeManifestBytes(bytes);
  if ('problem' in decoded) return { objects: [], notes: [], skipped: 0, errors: [{ source: file, file, severity: 'error', message: decoded.problem }] };
  return parseManifests(decoded.text, file, cluster, limits, /\.json$/i.test(file));
}

export function parseManifests(text: string, source: string, cluster: string, limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS, json = false): ParsedManifests {
  const out: ParsedManifests = { objects: [], errors: [], notes: [], skipped: 0 };
  const fileProblem = (message: string) => out.errors.push({ source, file: source, severity: 'error', message });
  if (text.length > limits.maxFileBytes) {
    fileProblem(`file is ${text.length.toLocaleString('en-US')} characters, over the limit of ${limits.maxFileBytes.toLocaleString('en-US')}`);
    return out;
  }
  let documents = 0;
  let content = 0;
  const readValue = (index: number, read: () => unknown) => {
    documents = index;
    const where = { source: `${source}#${index}`, file: source, document: index };
    try {
      const value = read();
      if (value === null || value === undefined) return;
      content++;
      const depth = nestingDepth(value, limits.maxDepth);
      if (depth > limits.maxDepth) {
        out.errors.push({ ...where, severity: 'error', message: `nested more than ${limits.maxDepth} levels deep` });
        return;
      }
      for (const item of unroll(value)) accept(item, where, cluster, out, limits.gatewayApiChannel ?? DEFAULT_GATEWAY_API_CHANNEL);
    } catch (error) {
      out.errors.push({ ...where, severity: 'error', message: refusalOf(error) });
    }
  };
  // JSON first for .json files: what `kubectl` does with them, and far cheaper than YAML on large files
  let parsedAsJson = false;
  if (json) {
    let value: unknown;
    try {
      value = JSON.parse(text);
      parsedAsJson = true;
    } catch {
      // not one JSON document: read as YAML, which reports where it breaks
    }
    if (parsedAsJson) readValue(1, () => value);
  }
  if (!parsedAsJson) {
    // the YAML parser takes seconds on flow collections nested thousands deep: refused before it starts
    const flowDepth = flowNestingDepth(text, limits.maxDepth);
    if (flowDepth > limits.maxDepth) {
      out.errors.push({ source: `${source}#1`, file: source, document: 1, severity: 'error', message: `nested more than ${limits.maxDepth} levels deep (flow collections); the file is not read further` });
      return out;
    }
    try {
      forEachYamlDocument(text, (document, index) =>
        readValue(index, () => {
          if (document.errors.length > 0) throw new ManifestRefusal(`not YAML: ${document.errors[0]!.message}`);
          const size = (document.range?.[2] ?? 0) - (document.range?.[0] ?? 0);
          if (size > limits.maxDocumentBytes) throw new ManifestRefusal(`document is ${size.toLocaleString('en-US')} characters, over the limit of ${limits.maxDocumentBytes.toLocaleString('en-US')}`);
          return document.toJS({ maxAliasCount: limits.maxAliasCount });
        }),
      );
    } catch (error) {
      // the parser itself gave up (a stack overflow on absurd nesting): the rest of the file is refused
      out.errors.push({ source: `${source}#${documents + 1}`, file: source, document: documents + 1, severity: 'error', message: refusalOf(error) });
      return out;
    }
  }
  if (content === 0 && out.errors.length === 0) {
    out.notes.push({ source, file: source, severity: 'ignored', message: documents === 0 ? 'empty file: no documents' : 'empty file: every document is empty' });
  }
  return out;
}

/** A reason for refusing a document, set where it is found. */
class ManifestRefusal extends Error {}

function refusalOf(error: unknown): string {
  if (error instanceof ManifestRefusal) return error.message;
  if (error instanceof RangeError) return `too deeply nested to read (${error.message})`;
  const message = error instanceof Error ? error.message : String(error);
  if (/alias/i.test(message)) return `too many YAML aliases (over ${DEFAULT_MANIFEST_LIMITS.maxAliasCount} expansions or an alias bomb): ${message}`;
  return `could not be read: ${message}`;
}

/** One document at a time (composed, then dropped), so a large file never holds every document's syntax tree at once. */
function forEachYamlDocument(text: string, each: (document: Document.Parsed, index: number) => void): void {
  // merge keys (`<<`) as Kubernetes' YAML reader resolves them
  const composer = new Composer({ merge: true, prettyErrors: true, uniqueKeys: true });
  let index = 0;
  const emit = (document: Document.Parsed) => each(document, ++index);
  for (const token of new Parser().parse(text)) for (const document of composer.next(token)) emit(document);
  for (const document of composer.end()) emit(document);
}

/**
 * How deep `[...]` and `{...}` nest in YAML text, stopping past `limit`: brackets count inside a flow
 * collection (where plain scalars cannot hold them) and where one may start in block context (after
 * `:`, `-`, `?`, or at the start of a line); quoted strings and comments are skipped.
 */
function flowNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let previous = '\n';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '#' && (previous === ' ' || previous === '\t' || previous === '\n')) {
      const end = text.indexOf('\n', i);
      if (end < 0) break;
      i = end - 1;
      continue;
    }
    if (depth > 0 && (c === '"' || c === "'")) {
      // a quoted scalar inside a flow collection ('' and \" escape the quote)
      let j = i + 1;
      for (; j < text.length; j++) {
        if (c === '"' && text[j] === '\\') j++;
        else if (text[j] === c) {
          if (c === "'" && text[j + 1] === "'") j++;
          else break;
        }
      }
      i = j;
      previous = c;
      continue;
    }
    if (c === '[' || c === '{') {
      if (depth > 0 || previous === '\n' || previous === ':' || previous === '-' || previous === '?' || previous === '[' || previous === '{') {
        depth++;
        if (depth > deepest) deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if ((c === ']' || c === '}') && depth > 0) {
      depth--;
    }
    if (c !== ' ' && c !== '\t' && c !== '\r') previous = c;
  }
  return deepest;
}

/** Depth of nested maps and lists, counted without recursion and no further than `limit + 1`. */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node as Record<string, unknown>)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

function unroll(value: unknown): unknown[] {
  if (isRecord(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items'])) {
    return value['items'] as unknown[];
  }
  return [value];
}

interface Where {
  source: string;
  file: string;
  document: number;
}

function accept(value: unknown, where: Where, cluster: string, out: ParsedManifests, channel: GatewayApiChannel): void {
  if (!isRecord(value) || typeof value['apiVersion'] !== 'string' || typeof value['kind'] !== 'string') {
    out.errors.push({ ...where, severity: 'error', message: 'not a Kubernetes object: apiVersion and kind are required' });
    return;
  }
  const info = kindInfo(value['apiVersion'], value['kind']);
  if (!info) {
    out.skipped++;
    out.notes.push({ ...where, object: describeObject(value), severity: 'ignored', message: `${value['kind']} of ${value['apiVersion']} is not a kind Tendril mirrors` });
    return;
  }
  const object = withoutManagedFields(value as KubeObject);
  const described = describeObject(object, info.namespaced);
  const admission = admitObject(object, channel);
  if (admission.problems.length > 0) {
    out.errors.push({ ...where, object: described, severity: 'error', message: admission.problems.join('; ') });
    return;
  }
  if (admission.checkedAs) {
    out.notes.push({ ...where, object: described, severity: 'ignored', message: `${String(object['apiVersion'])} is served only by older Gateway API releases; checked as ${admission.checkedAs} (${channel} channel)` });
  }
  if (admission.pruned.length > 0) {
    out.notes.push({ ...where, object: described, severity: 'ignored', message: `unknown fields dropped, as an API server with the Gateway API CRDs (${channel} channel) drops them: ${admission.pruned.join(', ')}` });
  }
  const admitted = admission.object as KubeObject;
  if (!isMirroredObject(info, admitted)) {
    out.skipped++;
    out.notes.push({ ...where, object: described, severity: 'ignored', message: `a ${info.kind} Tendril does not read (docs/operations.md lists the kinds it mirrors)` });
    return;
  }
  const defaulted = applyDefaults(mirroredForm(info, admitted), info.namespaced);
  const tooLarge = storedSizeProblem(defaulted);
  if (tooLarge) {
    out.errors.push({ ...where, object: described, severity: 'error', message: tooLarge });
    return;
  }
  const ref: ObjectRef = { cluster, kind: info.key, name: defaulted.metadata.name };
  if (info.namespaced) ref.namespace = defaulted.metadata.namespace!;
  out.objects.push({ key: objectKey(ref), ref, object: defaulted, source: where.source });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A stable uid for objects that never met an API server: the same key always gets the same uid. */
export function standaloneUid(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
