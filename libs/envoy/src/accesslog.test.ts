import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessLogService, lookupMessage, streamAccessLogsMessageCodec } from './index.js';

test('StreamAccessLogsMessage round-trips through Envoy protobuf bytes', () => {
  const message = {
    identifier: { node: { id: 'node-a', cluster: 'c' }, logName: 'als' },
    httpLogs: {
      logEntry: [
        {
          commonProperties: { upstreamCluster: 'shop/cart:80', duration: { seconds: '1', nanos: 5e6 }, responseFlags: { noRouteFound: true } },
          protocolVersion: 'HTTP2',
          request: { requestMethod: 'PATCH', path: '/x' },
          response: { responseCode: { value: 418 } },
        },
      ],
    },
  };
  const bytes = streamAccessLogsMessageCodec.encode(message);
  // the bytes are Envoy's message: the type from the .proto reads them
  const raw = lookupMessage('envoy.service.accesslog.v3.StreamAccessLogsMessage').decode(bytes) as unknown as { logEntries: string };
  assert.equal(raw.logEntries, 'httpLogs');
  const decoded = streamAccessLogsMessageCodec.decode(bytes);
  const entry = decoded.httpLogs?.logEntry[0];
  assert.equal(entry?.request?.requestMethod, 'PATCH');
  assert.equal(entry?.response?.responseCode?.value, 418);
  assert.equal(entry?.commonProperties?.duration?.seconds, '1');
  assert.equal(entry?.commonProperties?.responseFlags?.['noRouteFound'], true);
  assert.equal(decoded.identifier?.node?.id, 'node-a');
  assert.equal(accessLogService.StreamAccessLogs.path, '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs');
  assert.deepEqual(accessLogService.StreamAccessLogs.requestDeserialize(Buffer.from(bytes)), Buffer.from(bytes), 'the server decodes, not grpc-js');
});
