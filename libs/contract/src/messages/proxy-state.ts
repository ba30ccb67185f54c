/** KV `tendril-proxies` value (key: node token) and the `tendril.xds.proxy.<node>` events. */
import { z } from 'zod';
import { jsonCodec } from '../codec.js';

export const proxyTypeStateSchema = z.object({
  typeUrl: z.string().min(1),
  /** Version the proxy last ACKed ('' before the first ACK). */
  versionAcked: z.string(),
  /** Nonce of the last response sent. */
  lastNonce: z.string(),
  /** Resource names subscribed to; empty = wildcard. */
  subscribed: z.array(z.string()),
  lastNack: z
    .object({
      version: z.string(),
      nonce: z.string(),
      error: z.string(),
      /**
       * Names of the resources the NACK rejected (absent from older servers): state of the world, those
       * the rejected response changed from the ACKed state; delta, those it carried; narrowed to the
       * ones Envoy's message names when it names any. The translator maps them to objects' statuses.
       */
      resources: z.array(z.string()).optional(),
    })
    .nullable(),
  /** A response went out and neither its ACK nor its NACK has come back yet (absent from older servers). */
  awaitingAck: z.boolean().optional(),
});
export type ProxyTypeState = z.infer<typeof proxyTypeStateSchema>;

export const proxyStateSchema = z.object({
  v: z.literal(1),
  nodeId: z.string().min(1),
  nodeCluster: z.string(),
  /** xds-server replica that holds the stream. */
  replica: z.string().min(1),
  connectedAt: z.string(),
  connected: z.boolean(),
  types: z.array(proxyTypeStateSchema),
});
export type ProxyState = z.infer<typeof proxyStateSchema>;
export const proxyStateCodec = jsonCodec('proxy state', proxyStateSchema);

export const xdsProxyEventSchema = z.object({
  v: z.literal(1),
  event: z.enum(['connect', 'disconnect', 'ack', 'nack']),
  nodeId: z.string().min(1),
  replica: z.string().min(1),
  typeUrl: z.string().optional(),
  version: z.string().optional(),
  nonce: z.string().optional(),
  error: z.string().optional(),
  /** nack only: the names of the resources rejected (see lastNack.resources). */
  resources: z.array(z.string()).optional(),
  at: z.string(),
});
export type XdsProxyEvent = z.infer<typeof xdsProxyEventSchema>;
export const xdsProxyEventCodec = jsonCodec('xds proxy event', xdsProxyEventSchema);
