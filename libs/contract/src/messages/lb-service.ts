/** KV `tendril-lb` value: one L3/L4 service, what the datapath programs into the kernel. */
import { isIP } from 'node:net';
import { z } from 'zod';
import { jsonCodec } from '../codec.js';

const ip = z.string().refine((value) => isIP(value) !== 0, { message: 'not an IP address' });
const port = z.number().int().min(1).max(65535);
const protocol = z.enum(['TCP', 'UDP', 'SCTP']);

export const lbFrontendSchema = z.object({
  address: ip,
  port,
  protocol,
  /** The Service port's name ('' when unnamed); backends with the same portName serve it. */
  portName: z.string(),
  scope: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalIP']),
});
export type LbFrontend = z.infer<typeof lbFrontendSchema>;

export const lbBackendSchema = z.object({
  address: ip,
  port,
  protocol,
  portName: z.string(),
  weight: z.number().int().min(0).max(65535),
  /** active: takes new connections; terminating: serving but draining (only used when no active one). */
  state: z.enum(['active', 'terminating']),
  /** Node the backend runs on, when known. */
  nodeName: z.string().optional(),
  zone: z.string().optional(),
});
export type LbBackend = z.infer<typeof lbBackendSchema>;

export const lbServiceSchema = z.object({
  v: z.literal(1),
  cluster: z.string().min(1),
  namespace: z.string().min(1),
  name: z.string().min(1),
  frontends: z.array(lbFrontendSchema),
  backends: z.array(lbBackendSchema),
  algorithm: z.enum(['random', 'maglev', 'round-robin', 'least-request']),
  /** Client-IP session affinity and how long it lasts. */
  affinity: z.object({ timeoutSeconds: z.number().int().positive() }).nullable(),
  /**
   * When set, traffic goes to the node's Envoy instead of the backends: to `port`, or, for a frontend
   * port listed in `frontendPorts` (key: the frontend port as a decimal string), to the proxy port given
   * there. A Gateway with listeners on several ports needs one proxy listener per port, because the
   * redirected connection no longer carries the port the client dialled.
   */
  l7Proxy: z.object({ port, frontendPorts: z.record(z.string().regex(/^[1-9][0-9]{0,4}$/), port).optional() }).nullable(),
  /**
   * spec.externalTrafficPolicy, for the NodePort, LoadBalancer and ExternalIP frontends (absent:
   * Cluster). Local: traffic from outside the node goes to this node's backends only (nodeName),
   * with the client's source address kept.
   */
  externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
  /** spec.healthCheckNodePort (Local only): where each node answers 200 or 503 by its local endpoint count. */
  healthCheckNodePort: port.optional(),
});
export type LbService = z.infer<typeof lbServiceSchema>;
export const lbServiceCodec = jsonCodec('lb service', lbServiceSchema);

/**
 * The generation marker of `tendril-lb` (key LB_GENERATION_KEY), written by the translator after a
 * publish's LB entries whenever the generation or the entries changed: the generation is the one the
 * translator published to `tendril-xds` with them, the digest covers every LB key and content hash
 * (generationDigest()). A datapath that has applied the marker has applied every entry before it, so
 * comparing the marker it applied with the bucket's tells how far behind it is.
 */
export const lbGenerationSchema = z.object({
  v: z.literal(1),
  generation: z.number().int().nonnegative(),
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** Number of LB entries (the marker not counted). */
  count: z.number().int().nonnegative(),
});
export type LbGeneration = z.infer<typeof lbGenerationSchema>;
export const lbGenerationCodec = jsonCodec('lb generation', lbGenerationSchema);
