/**
 * What the state-of-the-world and delta test clients share: the channel (credentials, channel options),
 * the one bidirectional stream (with a count of the bytes received), the node every request carries,
 * why the stream ended, and waiting for a response that satisfies a predicate.
 */
import * as grpc from '@grpc/grpc-js';
import type { StreamMethod } from '@tendril/envoy';

export interface XdsTestStreamOptions {
  nodeId: string;
  nodeCluster?: string;
  /** Channel credentials (TLS, client certificate); default plaintext. */
  credentials?: grpc.ChannelCredentials;
}

interface Waiter<Response> {
  typeUrl: string;
  predicate: (response: Response) => boolean;
  resolve: (response: Response) => void;
}

export abstract class XdsTestStream<Request extends { node?: unknown }, Raw, Response extends { typeUrl: string }> {
  readonly responses: Response[] = [];
  /** Bytes of every response received (serialized). */
  bytesReceived = 0;
  /** Called on every response (after it is answered or held back). */
  onResponse: ((response: Response) => void) | undefined;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Request, Raw>;
  private readonly waiters = new Set<Waiter<Response>>();
  private ended: Error | undefined;

  /** kind names the stream in timeout messages ("delta " or ""). */
  protected constructor(
    address: string,
    method: StreamMethod<Request, Raw>,
    serviceName: string,
    private readonly streamOptions: XdsTestStreamOptions,
    channelOptions: grpc.ChannelOptions,
    private readonly kind: string,
  ) {
    const counting = {
      ...method,
      responseDeserialize: (bytes: Buffer) => {
        this.bytesReceived += bytes.length;
        return method.responseDeserialize(bytes);
      },
    };
    const Client = grpc.makeGenericClientConstructor({ Stream: counting }, serviceName);
    this.client = new Client(address, streamOptions.credentials ?? grpc.credentials.createInsecure(), channelOptions);
    this.call = (this.client as unknown as { Stream: () => grpc.ClientDuplexStream<Request, Raw> }).Stream();
    this.call.on('data', (raw: Raw) => this.deliver(this.receive(raw)));
    this.call.on('error', (error: Error) => (this.ended = error));
    this.call.on('end', () => (this.ended ??= new Error('stream ended')));
  }

  /** Resolves with the first response (already received or coming) of the type that matches. */
  waitFor(typeUrl: string, predicate: (response: Response) => boolean = () => true, timeoutMs = 5000): Promise<Response> {
    const seen = this.responses.find((r) => r.typeUrl === typeUrl && predicate(r));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<Response> = { typeUrl, predicate, resolve };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const last = this.responses.findLast((r) => r.typeUrl === typeUrl);
        const why = this.ended ? ` (stream: ${this.ended.message})` : '';
        reject(new Error(`no matching ${this.kind}${typeUrl} response within ${timeoutMs} ms${why}; last: ${JSON.stringify(last ?? null)}`));
      }, timeoutMs);
      waiter.resolve = (response) => {
        clearTimeout(timer);
        resolve(response);
      };
      this.waiters.add(waiter);
    });
  }

  /** Why the stream ended (a refusal's status), once it has. */
  get streamError(): Error | undefined {
    return this.ended;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  /** Writes a request carrying this client's node. */
  protected send(request: Omit<Request, 'node'>): void {
    this.call.write({ ...request, node: { id: this.streamOptions.nodeId, cluster: this.streamOptions.nodeCluster ?? '' } } as Request);
  }

  /** Decodes a response, records it in responses and answers it (or holds it back); returns what was recorded. */
  protected abstract receive(raw: Raw): Response;

  private deliver(response: Response): void {
    this.onResponse?.(response);
    for (const waiter of [...this.waiters]) {
      if (waiter.typeUrl === response.typeUrl && waiter.predicate(response)) {
        this.waiters.delete(waiter);
        waiter.resolve(response);
      }
    }
  }
}
