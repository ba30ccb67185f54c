import { Module } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';
import { XDS_SERVER_CONFIG, readXdsServerConfig } from './config.js';
import { XdsService } from './xds.service.js';

@Module({
  imports: [PlatformModule.forRoot({ service: 'xds-server', description: 'Tendril xDS server: Envoy ADS from KV tendril-xds' })],
  providers: [{ provide: XDS_SERVER_CONFIG, useFactory: readXdsServerConfig }, XdsService],
})
export class AppModule {}
