/**
 * IP address checks without node:net, so the model stays pure. Canonical forms only matter for
 * de-duplication, and Kubernetes already requires canonical addresses in EndpointSlices.
 */
export type IpFamily = 'IPv4' | 'IPv6';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(value: string): boolean {
  return IPV4.test(value);
}

export function isIPv6(value: string): boolean {
  if (value.length < 2 || value.length > 45 || !/^[0-9a-fA-F:.]+$/.test(value)) return false;
  let groups = value;
  let extra = 0;
  const lastColon = value.lastIndexOf(':');
  if (value.slice(lastColon + 1).includes('.')) {
    // an embedded IPv4 tail counts as two groups
    if (!isIPv4(value.slice(lastColon + 1))) return false;
    groups = value.slice(0, lastColon + 1) + '0';
    extra = 1;
  }
  const halves = groups.split('::');
  if (halves.length > 2) return false;
  const parts = halves.map((half) => (half === '' ? [] : half.split(':')));
  if (parts.some((list) => list.some((group) => !/^[0-9a-fA-F]{1,4}$/.test(group)))) return false;
  const count = parts.reduce((sum, list) => sum + list.length, 0) + extra;
  return halves.length === 2 ? count <= 7 : count === 8;
}

export function ipFamily(value: string): IpFamily | undefined {
  if (isIPv4(value)) return 'IPv4';
  if (isIPv6(value)) return 'IPv6';
  return undefined;
}

export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}
