import { Module } from '@nestjs/common';
import { PLATFORM_CONFIG, PlatformModule, type PlatformConfig } from '@tendril/platform';
import { DATAPATH_CONFIG, readDatapathConfig } from './config.js';
import { DatapathService } from './datapath.service.js';

@Module({
  imports: [PlatformModule.forRoot({ service: 'datapath', description: 'Tendril datapath: programs the eBPF socket load balancer from tendril-lb' })],
  providers: [
    { provide: DATAPATH_CONFIG, useFactory: (platform: PlatformConfig) => readDatapathConfig(platform.dataDir), inject: [PLATFORM_CONFIG] },
    DatapathService,
  ],
})
export class AppModule {}
