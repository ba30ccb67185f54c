// The manifest folder of bench/e2e.mjs: one file per Service (the Service and its EndpointSlice), as a
// user keeps them, each Service on port 80 of its own VIP with one endpoint on one of the bench's echo
// backends (127.0.2.x). Files are written elsewhere and renamed into the folder, so the k8s-watcher
// never reads half a file.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The VIP of Service i: 127.96.0.0/16, the k8s-watcher's default Service range (i < 65,000). */
export const vipOf = (i) => `127.96.${(i + 1) >> 8}.${(i + 1) & 255}`;
export const nameOf = (i) => `bench-${i}`;
export const VIP_PORT = 80;

/** Service i and its EndpointSlice with one endpoint on `backend` ({ address, port }). */
export function serviceFile(i, backend) {
  const name = nameOf(i);
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
spec:
  clusterIP: ${vipOf(i)}
  ports:
  - name: http
    port: ${VIP_PORT}
    protocol: TCP
    targetPort: ${backend.port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: default
  labels:
    kubernetes.io/service-name: ${name}
addressType: IPv4
ports:
- name: http
  port: ${backend.port}
  protocol: TCP
endpoints:
- addresses: [${backend.address}]
  conditions: { ready: true }
`;
}

export class ManifestFolder {
  /** `dir`: the folder the k8s-watcher reads; `scratch`: a folder beside it on the same file system. */
  constructor(dir, scratch) {
    this.dir = dir;
    this.scratch = scratch;
  }

  /** Writes (or replaces) Service i's file in one rename. */
  writeService(i, backend) {
    const file = `${nameOf(i)}.yaml`;
    writeFileSync(join(this.scratch, file), serviceFile(i, backend));
    renameSync(join(this.scratch, file), join(this.dir, file));
  }
}
