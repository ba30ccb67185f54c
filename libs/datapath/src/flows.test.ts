import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowEventCodec } from '@tendril/contract';
import { FlowAggregator, type Lb4FlowEvent } from './index.js';

const event = (backend: string, verdict: Lb4FlowEvent['verdict'] = 'translated'): Lb4FlowEvent => ({
  service: { address: '127.100.0.1', port: 80 },
  backend: { address: backend, port: 8080 },
  serviceId: 1,
  protocol: 'TCP',
  verdict,
});

test('connections are counted per service, backend and verdict, and named after their service', () => {
  const flows = new FlowAggregator();
  for (let i = 0; i < 3; i++) flows.add(event('10.0.0.1'));
  flows.add(event('10.0.0.2'));
  flows.add(event('0.0.0.0', 'no-backend'));
  const at = new Date('2025-01-01T00:00:00Z');
  const messages = flows.flush('node-a', at, (frontend) => (frontend === '127.100.0.1:80/TCP' ? 'default.shop.web' : undefined));
  assert.deepEqual(
    messages.map((m) => [m.backend.address, m.verdict, m.count, m.serviceName]),
    [
      ['10.0.0.1', 'translated', 3, 'shop/web'],
      ['10.0.0.2', 'translated', 1, 'shop/web'],
      ['0.0.0.0', 'no-backend', 1, 'shop/web'],
    ],
  );
  for (const message of messages) assert.deepEqual(flowEventCodec.check(message), message);
  assert.equal(flows.size, 0);
  assert.deepEqual(flows.flush('node-a', at, () => undefined), []);
});
