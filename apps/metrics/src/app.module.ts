import { Module } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';
import { AccessLogServer } from './access-log-server.js';
import { ApiController } from './api.controller.js';
import { METRICS_CONFIG, readMetricsConfig } from './config.js';
import { FlowsService } from './flows.service.js';
import { MeshFigures } from './mesh-figures.js';
import { OtlpExporter } from './otlp.js';
import { ProxiesService } from './proxies.service.js';
import { TrafficService } from './traffic.service.js';

@Module({
  imports: [PlatformModule.forRoot({ service: 'metrics', description: 'Tendril metrics: Prometheus, L7 metrics, flows, service map' })],
  controllers: [ApiController],
  providers: [{ provide: METRICS_CONFIG, useValue: readMetricsConfig() }, MeshFigures, TrafficService, AccessLogServer, FlowsService, ProxiesService, OtlpExporter],
})
export class AppModule {}
