/**
 * Names of generated resources: stable and readable, built here and nowhere else. System tests and
 * proxyless clients address clusters by these names.
 */

/** EDS cluster (and ClusterLoadAssignment) of one Service port: `<namespace>/<service>:<port>`. */
export function serviceClusterName(namespace: string, service: string, port: number): string {
  return `${namespace}/${service}:${port}`;
}
