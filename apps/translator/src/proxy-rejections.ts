/**
 * The proxies' current rejections, from KV `tendril-proxies` (written by the xds-server): for every
 * connected proxy and type, the resources its last NACK rejected, with Envoy's message. A proxy that
 * ACKs again or disconnects drops out. Listeners hear only when the set of rejections changes, not on
 * every ACK of every proxy.
 */
import { BUCKETS, proxyStateCodec, xdsTypeOfUrl, type ProxyState } from '@tendril/contract';
import { KvMirror, type Logger, type NatsClient } from '@tendril/platform';
import { withProxyRejections, type ProxyRejection, type TranslationOptions, type TranslationOutput } from '@tendril/translation';

export class ProxyRejections {
  private readonly mirror: KvMirror<ProxyState>;
  private list: ProxyRejection[] = [];
  private signature = '[]';
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
    this.mirror.onChange(() => this.recompute());
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

  private recompute(): void {
    const list: ProxyRejection[] = [];
    for (const [, state] of this.mirror.values()) {
      if (!state.connected) continue;
      for (const type of state.types) {
        const xdsType = xdsTypeOfUrl(type.typeUrl);
        if (!xdsType || !type.lastNack) continue;
        for (const name of type.lastNack.resources ?? []) list.push({ type: xdsType, name, nodeId: state.nodeId, error: type.lastNack.error });
      }
    }
    const order = (r: ProxyRejection) => `${r.type}\u0000${r.name}\u0000${r.nodeId}`;
    list.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    const signature = JSON.stringify(list);
    if (signature === this.signature) return;
    this.signature = signature;
    this.list = list;
    for (const listener of this.listeners) listener();
  }
}
