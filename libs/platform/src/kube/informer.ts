/**
 * List+watch of one kind that never stops for good. It is @kubernetes/client-node's own informer
 * (ListWatch: list, watch from the list's resourceVersion, relist on 410 Gone with deletes for what
 * vanished meanwhile) wrapped so that:
 * - an informer that stopped on an error (API server down, 500, connection refused) is restarted
 *   with exponential backoff and jitter, resuming from its last resourceVersion;
 * - watches ask for BOOKMARKs and end server-side after `watchTimeoutSeconds` (a real API server
 *   honours the client's timeoutSeconds); a watch silent for that long plus `stallMarginMs` is taken
 *   for dead (a half-open connection) and reopened. A quiet kind on a server that sends no bookmarks
 *   (no watch cache, or one that sends them only near the timeout) is not stalled: its watch simply
 *   ends at the timeout and is reopened without a warning;
 * - objects get the `apiVersion` and `kind` of the collection where the server leaves them off (a
 *   real server does for the items of a built-in kind's list);
 * - a kind the server does not serve (404: its CRD is not installed) is retried every
 *   `notFoundRetryMs` and reported, never fatal.
 */
import { ADD, DELETE, ERROR, ListWatch, UPDATE, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { KubeApiError, type KubeClient } from './client.js';
import type { Logger } from '../logger.js';

export type InformerState = 'starting' | 'synced' | 'not-installed' | 'failing';

export interface InformerOptions {
  /** Collection path, e.g. `/api/v1/services`. */
  path: string;
  /** For log lines and metrics: the kind. */
  name: string;
  fieldSelector?: string;
  /** The apiVersion and kind of the collection's objects, filled in where the server leaves them off. */
  typeMeta?: { apiVersion: string; kind: string };
  /**
   * Applied to every listed or watched object before the cache holds it: what the owner never needs
   * (the data of ConfigMaps it does not mirror) is not kept.
   */
  transform?: (object: KubernetesObject) => KubernetesObject;
  watchTimeoutSeconds?: number;
  /** How long past watchTimeoutSeconds a watch with no byte is taken for dead (default 15 s). */
  stallMarginMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  notFoundRetryMs?: number;
  logger: Logger;
}

export interface InformerHandlers<T extends KubernetesObject> {
  /** Every object added or changed, in the order the API server sent them. */
  upsert(object: T): void;
  delete(object: T): void;
  /** After every (re)list: the complete current set, for exact reconciliation. */
  listed?(objects: T[], relist: boolean): void;
  /** Each watch event, bookmark included (for metrics). */
  event?(type: string): void;
  stateChanged?(state: InformerState, detail: string): void;
}

/** A Watch that asks for bookmarks and a server-side timeout, and tells its owner about each event. */
class TrackedWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly owner: { watching(): void; sawEvent(type: string): void; ended(error: unknown): void },
    private readonly timeoutSeconds: number,
    stallAfterMs: number,
    private readonly prepare: (object: KubernetesObject) => KubernetesObject,
  ) {
    super(config);
    // client-node's inactivity timeout: no byte for this long and the watch ends. The server ends
    // every watch after timeoutSeconds, so only a watch silent past that (plus a margin) is dead.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = stallAfterMs;
  }

  override async watch(path: string, query: Record<string, string | number | boolean | undefined>, callback: (phase: string, object: unknown, watchObject?: unknown) => void, done: (error: unknown) => void): Promise<AbortController> {
    this.owner.watching();
    return super.watch(
      path,
      { ...query, allowWatchBookmarks: true, timeoutSeconds: this.timeoutSeconds },
      (phase, object, watchObject) => {
        this.owner.sawEvent(phase);
        const keep = object && phase !== 'BOOKMARK' && phase !== 'ERROR' ? this.prepare(object as KubernetesObject) : object;
        callback(phase, keep, watchObject);
      },
      (error) => {
        this.owner.ended(error);
        done(error);
      },
    );
  }
}

export class ResilientInformer<T extends KubernetesObject = KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private state: InformerState = 'starting';
  private stopped = true;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private listedSinceWatch = false;
  private lists = 0;
  /** Relists after the first list (410 Gone, or a restart that lost its place). */
  relists = 0;
  /** Watches reopened after a drop, timeout, stall or error. */
  restarts = 0;
  /** Date.now() of the last watch event or bookmark (0: none yet). */
  lastEventAt = 0;
  lastError = '';
  /** Date.now() of the first failed list or watch since the last watch opened (0: none failing). */
  failingSince = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions,
    private readonly handlers: InformerHandlers<T>,
  ) {
    const timeoutSeconds = options.watchTimeoutSeconds ?? 300;
    const watch = new TrackedWatch(client.config, this, timeoutSeconds, this.stallAfterMs, (object) => this.prepare(object));
    this.informer = new ListWatch<T>(options.path, watch, () => this.list(), false, undefined, options.fieldSelector);
    this.informer.on(ADD, (object) => handlers.upsert(object));
    this.informer.on(UPDATE, (object) => handlers.upsert(object));
    this.informer.on(DELETE, (object) => handlers.delete(object));
    this.informer.on(ERROR, (error) => this.failed(error));
  }

  /** How long a watch may stay silent before it is taken for dead: the server-side timeout plus the margin. */
  get stallAfterMs(): number {
    return (this.options.watchTimeoutSeconds ?? 300) * 1000 + (this.options.stallMarginMs ?? 15_000);
  }

  get currentState(): InformerState {
    return this.state;
  }

  /** The objects the informer holds now (its warm cache). */
  objects(): T[] {
    return [...this.informer.list()];
  }

  /** One object of the cache, by name (and namespace for a namespaced kind). */
  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    void this.informer.stop();
  }

  private run(): void {
    if (this.stopped) return;
    this.informer.start().catch((error: unknown) => this.failed(error));
  }

  private async list(): Promise<KubernetesListObject<T>> {
    const query = this.options.fieldSelector ? `?fieldSelector=${encodeURIComponent(this.options.fieldSelector)}` : '';
    const list = await this.client.request<KubernetesListObject<T>>('GET', this.options.path + query);
    if (list.items) list.items = list.items.map((item) => this.prepare(item) as T);
    this.lists++;
    if (this.lists > 1) this.relists++;
    this.listedSinceWatch = true;
    return list;
  }

  /** TypeMeta filled in (a real server leaves it off a built-in kind's list items), then the owner's transform. */
  private prepare(object: KubernetesObject): KubernetesObject {
    const typeMeta = this.options.typeMeta;
    const typed = typeMeta && (!object.apiVersion || !object.kind) ? { ...object, apiVersion: object.apiVersion || typeMeta.apiVersion, kind: object.kind || typeMeta.kind } : object;
    return this.options.transform ? this.options.transform(typed) : typed;
  }

  /** Called by the watch as it opens: if a list came just before, its items are all delivered now. */
  watching(): void {
    if (this.listedSinceWatch) {
      this.listedSinceWatch = false;
      this.handlers.listed?.([...this.informer.list()], this.lists > 1);
    }
    this.failures = 0;
    this.failingSince = 0;
    this.lastError = '';
    this.setState('synced', `watching ${this.options.path}`);
  }

  sawEvent(type: string): void {
    this.lastEventAt = Date.now();
    this.handlers.event?.(type);
  }

  /** A watch ended; client-node reopens it itself after a timeout, a server-side end or a 410. */
  ended(error: unknown): void {
    if (this.stopped) return;
    this.restarts++;
    if (error && (error as Error).name === 'TimeoutError') {
      this.options.logger.warn(`${this.options.name}: watch silent for ${this.stallAfterMs} ms, past its ${this.options.watchTimeoutSeconds ?? 300} s server-side timeout; reopening it`);
    }
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    const statusCode = error instanceof KubeApiError ? error.statusCode : (error as { statusCode?: number }).statusCode;
    const message = describeError(error);
    this.lastError = message;
    if (statusCode === 404) {
      if (this.state !== 'not-installed') this.options.logger.warn(`${this.options.name}: not served by the API server (CRD not installed?); retrying in the background`);
      this.setState('not-installed', `${this.options.path} not served; retrying every ${this.options.notFoundRetryMs ?? 30_000} ms`);
      this.schedule(this.options.notFoundRetryMs ?? 30_000);
      return;
    }
    // the server answers but fails, or cannot be reached: the cache is what it last saw
    this.failingSince ||= Date.now();
    this.failures++;
    const initial = this.options.backoffInitialMs ?? 500;
    const ceiling = this.options.backoffMaxMs ?? 30_000;
    const base = Math.min(ceiling, initial * 2 ** Math.min(this.failures - 1, 16));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    if (this.failures === 1 || this.failures % 10 === 0) this.options.logger.warn(`${this.options.name}: ${message}; retrying in ${delay} ms (failure ${this.failures})`);
    // a kind that never synced is failing; one that did keeps serving its cache while it reconnects
    if (this.state !== 'synced') this.setState('failing', message);
    this.restarts++;
    this.schedule(delay);
  }

  private schedule(delay: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.run();
    }, delay);
  }

  private setState(state: InformerState, detail: string): void {
    const changed = state !== this.state;
    this.state = state;
    if (changed) this.handlers.stateChanged?.(state, detail);
  }
}

/** A failure's message, with the network cause fetch hides under "fetch failed" (ECONNREFUSED, ...). */
export function describeError(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause && (cause.code || cause.message) ? `${message} (${cause.code ?? cause.message})` : message;
}
