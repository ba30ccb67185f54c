/**
 * Standalone mode has no API server to write `.status` to: the desired status the translator puts in
 * KV `tendril-status` goes to the log instead, one line per condition change, naming the object, and
 * to the micro endpoint `tendril.k8s-watcher.status`.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { BUCKETS, objectStatusCodec, type ObjectStatus } from '@tendril/contract';
import { KvMirror, MicroRegistration, NatsClient } from '@tendril/platform';
import { StandaloneSource } from './standalone-source.js';

@Injectable()
export class StatusLog implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('status');
  private readonly mirror: KvMirror<ObjectStatus>;

  constructor(
    @Inject(NatsClient) nats: NatsClient,
    @Inject(MicroRegistration) micro: MicroRegistration,
    @Inject(StandaloneSource) private readonly source: StandaloneSource,
  ) {
    this.mirror = new KvMirror(nats, { bucket: BUCKETS.status, decode: (_key, bytes) => objectStatusCodec.decode(bytes), logger: this.logger });
    // tendril.k8s-watcher.status: every object's desired status, keyed as in the bucket, and every
    // refused document as an entry of its own (an API server would have refused it the same way)
    micro.endpoint('status', () => new TextEncoder().encode(JSON.stringify({ ...Object.fromEntries(this.mirror.values().sort(([a], [b]) => a.localeCompare(b))), ...this.refusals() })));
    this.mirror.onChange((changes) => {
      for (const change of changes) {
        if (change.op !== 'put' || !change.value) continue;
        const lines = describe(change.value);
        const before = new Set(change.previous ? describe(change.previous) : []);
        for (const line of lines) if (!before.has(line)) this.logger.log(line);
      }
    });
  }

  private refusals(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const error of this.source.manifestErrors) {
      if (error.severity === 'ignored') continue;
      out[`refused:${error.source}`] = {
        source: error.source,
        object: error.object ?? null,
        status: { conditions: [{ type: 'Accepted', status: 'False', reason: 'Invalid', message: error.message }] },
      };
    }
    return out;
  }

  onApplicationBootstrap(): void {
    void this.mirror.start().catch((error: Error) => this.logger.warn(`status log stopped: ${error.message}`));
  }

  onModuleDestroy(): void {
    this.mirror.stop();
  }
}

function describe(status: ObjectStatus): string[] {
  const who = `${status.namespace ? `${status.namespace}/` : ''}${status.kind}/${status.name}`;
  const lines: string[] = [];
  const visit = (where: string, value: unknown) => {
    if (Array.isArray(value)) value.forEach((item, i) => visit(`${where}[${i}]`, item));
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (typeof record['type'] === 'string' && typeof record['status'] === 'string' && typeof record['reason'] === 'string') {
        lines.push(`${who} ${where}: ${record['type']}=${record['status']} (${record['reason']}) ${String(record['message'] ?? '')}`.trimEnd());
        return;
      }
      for (const [key, child] of Object.entries(record)) visit(where ? `${where}.${key}` : key, child);
    }
  };
  visit('', status.status);
  return lines;
}
