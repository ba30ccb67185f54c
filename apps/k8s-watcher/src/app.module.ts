import { Module } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';
import { WATCHER_CONFIG, readWatcherConfig } from './config.js';
import { StandaloneSource } from './standalone-source.js';
import { StatusLog } from './status-log.js';

@Module({
  imports: [PlatformModule.forRoot({ service: 'k8s-watcher', description: 'Tendril k8s-watcher: Kubernetes objects (or a manifest folder) into NATS KV' })],
  providers: [{ provide: WATCHER_CONFIG, useFactory: readWatcherConfig }, StandaloneSource, StatusLog],
})
export class AppModule {}
