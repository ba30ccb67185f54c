/** Service, EndpointSlice, Secret, ConfigMap, Namespace: the fields the API server accepts, strictly. */
import { isIP } from 'node:net';
import { z } from 'zod';
import { intOrString, objectSchema, port, protocol } from './common.js';

const ipOrNone = z.string().refine((value) => value === 'None' || value === '' || isIP(value) !== 0, 'must be an IP address or "None"');
const ip = z.string().refine((value) => isIP(value) !== 0, 'must be an IP address');

export const servicePortSchema = z
  .object({
    name: z.string().optional(),
    protocol: protocol.optional(),
    appProtocol: z.string().optional(),
    port,
    targetPort: intOrString.optional(),
    nodePort: z.number().int().min(1).max(65535).optional(),
  })
  .strict();

export const serviceSchema = objectSchema({
  spec: z
    .object({
      type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).optional(),
      ports: z.array(servicePortSchema).optional(),
      selector: z.record(z.string(), z.string()).optional(),
      clusterIP: ipOrNone.optional(),
      clusterIPs: z.array(ipOrNone).optional(),
      externalIPs: z.array(ip).optional(),
      externalName: z.string().optional(),
      sessionAffinity: z.enum(['None', 'ClientIP']).optional(),
      sessionAffinityConfig: z.object({ clientIP: z.object({ timeoutSeconds: z.number().int().min(1).max(86400).optional() }).strict().optional() }).strict().optional(),
      loadBalancerIP: z.string().optional(),
      loadBalancerClass: z.string().optional(),
      loadBalancerSourceRanges: z.array(z.string()).optional(),
      allocateLoadBalancerNodePorts: z.boolean().optional(),
      externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
      internalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
      healthCheckNodePort: z.number().int().optional(),
      ipFamilies: z.array(z.enum(['IPv4', 'IPv6'])).optional(),
      ipFamilyPolicy: z.enum(['SingleStack', 'PreferDualStack', 'RequireDualStack']).optional(),
      publishNotReadyAddresses: z.boolean().optional(),
      trafficDistribution: z.string().optional(),
    })
    .strict()
    .optional(),
});

export const endpointSliceSchema = objectSchema({
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  endpoints: z
    .array(
      z
        .object({
          addresses: z.array(z.string().min(1)).min(1).max(100),
          conditions: z.object({ ready: z.boolean().optional(), serving: z.boolean().optional(), terminating: z.boolean().optional() }).strict().optional(),
          hostname: z.string().optional(),
          nodeName: z.string().optional(),
          zone: z.string().optional(),
          targetRef: z.record(z.string(), z.unknown()).optional(),
          hints: z.record(z.string(), z.unknown()).optional(),
          deprecatedTopology: z.record(z.string(), z.string()).optional(),
        })
        .strict(),
    )
    .optional(),
  ports: z
    .array(z.object({ name: z.string().optional(), port: port.optional(), protocol: protocol.optional(), appProtocol: z.string().optional() }).strict())
    .optional(),
});

export const secretSchema = objectSchema({
  type: z.string().optional(),
  data: z.record(z.string(), z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')).optional(),
  stringData: z.record(z.string(), z.string()).optional(),
  immutable: z.boolean().optional(),
});

export const configMapSchema = objectSchema({
  data: z.record(z.string(), z.string()).optional(),
  binaryData: z.record(z.string(), z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')).optional(),
  immutable: z.boolean().optional(),
});

export const namespaceSchema = objectSchema({ spec: z.record(z.string(), z.unknown()).optional() });

/**
 * A Pod: its spec is the kubelet's business and passes through (only the fields network policy reads
 * are checked); addresses in `status` are checked as IPs. In standalone mode there is no kubelet: a Pod
 * in the folder declares its addresses in `status.podIPs` (or `status.podIP`) as the API server shows them.
 */
export const podSchema = objectSchema({
  spec: z
    .object({
      nodeName: z.string().optional(),
      serviceAccountName: z.string().optional(),
      hostNetwork: z.boolean().optional(),
    })
    .loose()
    .optional(),
  status: z
    .object({
      phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']).optional(),
      podIP: ip.optional(),
      podIPs: z.array(z.object({ ip }).strict()).optional(),
      hostIP: ip.optional(),
    })
    .loose()
    .optional(),
});
