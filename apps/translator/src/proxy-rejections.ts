/**
 * The proxies' current rejections, from KV `tendril-proxies` (written by the xds-server): for every
 * connected proxy and type, the resources its last NACK rejected, with Envoy's message. A proxy that
 * ACKs again or disconnects drops out. Listeners hear only when the set of rejections changes, not on
 * every ACK of every proxy.
 */
import { BUCKETS, proxyStateCodec, xdsTypeOfUrl, type ProxyState } from '@tendril/contract';
import { KvMirror, type Logger, type MirrorChange, type NatsClient } from '@tendril/platform';
import { withProxyRejections, type ProxyRejection, type TranslationOptions, type TranslationOutput } from '@tendril/translation';

export class ProxyRejections {
  private readonly mirror: KvMirror<ProxyState>;
  private list: ProxyRejection[] = [];
  /** Per node key: its rejections, and them as JSON (to see a change at O(its types)). */
  private readonly byNode = new Map<string, { list: ProxyRejection[]; signature: string }>();
  private readonly listeners = new Set<() => void>();
  private notes = new Set<string>();

  constructor(
    nats: NatsClient,
    private readonly logger: Logger,
  ) {
    this.mirror = new KvMirror(nats, {
      bucket: BUCKETS.proxies,
      decode: (_key, bytes) => proxyStateCodec.decode(bytes),
      logger,
      // The xds-server creates the bucket; until then there is nothing to report.
      onWaiting: () => undefined,
    });
    // One change per proxy-state write: thousands of proxies ACKing a push cost O(types) each.
    this.mirror.onChange((changes) => this.update(changes));
  }

  /** Starts mirroring; does not wait for the bucket. */
  start(): void {
    void this.mirror.start().catch(() => undefined);
  }

  stop(): void {
    this.mirror.stop();
  }

  /** Current rejections, sorted (type, name, node). */
  current(): ProxyRejection[] {
    return this.list;
  }

  /**
   * The output with the rejections in its statuses; rejections of objects whose status has no place
   * for them (Ingress) are logged, once each.
   */
  apply(output: TranslationOutput, cluster: string, options: TranslationOptions): TranslationOutput {
    const { statuses, notes } = withProxyRejections(output.statuses, output.ir, this.list, { cluster, controllerName: options.gatewayControllerName });
    const lines = new Set(notes.map((note) => `${note.key}: ${note.message}`));
    for (const line of lines) if (!this.notes.has(line)) this.logger.warn(line);
    this.notes = lines;
    return statuses === output.statuses ? output : { ...output, statuses };
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  private update(changes: MirrorChange<ProxyState>[]): void {
    let changed = false;
    for (const change of changes) {
      const list = change.op === 'put' && change.value ? rejectionsOf(change.value) : [];
      const signature = JSON.stringify(list);
      if ((this.byNode.get(change.key)?.signature ?? '[]') === signature) continue;
      changed = true;
      if (list.length === 0) this.byNode.delete(change.key);
      else this.byNode.set(change.key, { list, signature });
    }
    if (!changed) return;
    const order = (r: ProxyRejection) => `${r.type}\u0000${r.name}\u0000${r.nodeId}`;
    this.list = [...this.byNode.values()].flatMap((entry) => entry.list).sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    for (const listener of this.listeners) listener();
  }
}

/** What a connected proxy rejects now; nothing for a disconnected one. */
function rejectionsOf(state: ProxyState): ProxyRejection[] {
  const list: ProxyRejection[] = [];
  if (!state.connected) return list;
  for (const type of state.types) {
    const xdsType = xdsTypeOfUrl(type.typeUrl);
    if (!xdsType || !type.lastNack) continue;
    for (const name of type.lastNack.resources ?? []) list.push({ type: xdsType, name, nodeId: state.nodeId, error: type.lastNack.error });
  }
  return list;
}
