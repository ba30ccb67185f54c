/** The LbService the kernel tests publish or program: one frontend on port 80, every backend active with weight 1. */
import type { LbBackend, LbService } from '@tendril/contract';
import type { Backend } from './kernel.js';

export function lbService(vip: string, backends: Backend[], extra: Partial<LbService> & { protocol?: 'TCP' | 'UDP' } = {}): LbService {
  const { protocol = 'TCP', ...rest } = extra;
  return {
    v: 1,
    cluster: 'default',
    namespace: 'test',
    name: 'web',
    frontends: [{ address: vip, port: 80, protocol, portName: 'http', scope: 'ClusterIP' }],
    backends: backends.map((backend): LbBackend => ({ address: backend.host, port: backend.port, protocol, portName: 'http', weight: 1, state: 'active' })),
    algorithm: 'random',
    affinity: null,
    l7Proxy: null,
    ...rest,
  };
}
