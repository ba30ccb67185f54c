/** L4 port ranges of policy rules. */

export type Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ANY';

/** An inclusive port range of one protocol; 0-65535 with ANY is "every port of every protocol". */
export interface PortRange {
  protocol: Protocol;
  from: number;
  to: number;
}

export const ANY_PORT: PortRange = { protocol: 'ANY', from: 0, to: 65535 };

export function portRangeText(range: PortRange): string {
  const ports = range.from === 0 && range.to === 65535 ? '*' : range.from === range.to ? String(range.from) : `${range.from}-${range.to}`;
  return `${ports}/${range.protocol}`;
}

export function portMatches(range: PortRange, protocol: Exclude<Protocol, 'ANY'>, port: number): boolean {
  return (range.protocol === 'ANY' || range.protocol === protocol) && port >= range.from && port <= range.to;
}

export function comparePortRanges(a: PortRange, b: PortRange): number {
  return a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : a.from - b.from || a.to - b.to;
}
