// The mesh translate-ingress and translator-lag measure: N Services (one port 80, E endpoints each,
// one EndpointSlice each, ClusterIPs in 127.100.0.0/14) routed by dedicated Ingresses (one per 10
// Services, one path per Service, a host per Ingress), all in cluster `c`, namespace default; and the
// single changes both make.
const octets = (i) => `${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
export const PER_INGRESS = 10;

/** EndpointSlice of Service i; each `generation` shifts its endpoint addresses. */
export function meshSlice(i, endpointsPer, generation = 0) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: endpointsPer }, (_, e) => ({ addresses: [`10.${octets(i * endpointsPer + e + generation)}`], conditions: { ready: true } })),
  };
}

/** Ingress g of the mesh (routing to its 10 Services), with the annotations given. */
export function meshIngress(g, services, annotations) {
  const paths = [];
  for (let i = g * PER_INGRESS; i < Math.min(services, (g + 1) * PER_INGRESS); i++) paths.push({ path: `/svc-${i}`, pathType: 'Prefix', backend: { service: { name: `svc-${i}`, port: { number: 80 } } } });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: `web-${g}`, namespace: 'default', ...(annotations ? { annotations } : {}) },
    spec: { ingressClassName: 'cilium', rules: [{ host: `web-${g}.example.com`, http: { paths } }] },
  };
}

/** Every object of the mesh, by `tendril-objects` key, in key order of kind. */
export function ingressMesh(services, endpointsPer) {
  const objects = new Map();
  for (let i = 0; i < services; i++) {
    const name = `svc-${i}`;
    objects.set(`c.service.default.${name}`, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: `127.${100 + ((i >> 16) & 3)}.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 80 }] } });
    objects.set(`c.endpointslice.default.${name}-1`, meshSlice(i, endpointsPer));
  }
  for (let g = 0; g * PER_INGRESS < services; g++) objects.set(`c.ingress.default.web-${g}`, meshIngress(g, services));
  return objects;
}
