import { Module } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';
import { WATCHER_CONFIG, readWatcherConfig, readWatcherMode } from './config.js';
import { KubeConnection, KubeSource } from './kube-source.js';
import { StandaloneSource } from './standalone-source.js';
import { StatusLog } from './status-log.js';
import { StatusWriter } from './status-writer.js';

// the mode decides which source runs: the manifest folder, or the Kubernetes API (with status written back)
const providers =
  readWatcherMode() === 'kubernetes' ? [KubeConnection, KubeSource, StatusWriter] : [StandaloneSource, StatusLog];

@Module({
  imports: [PlatformModule.forRoot({ service: 'k8s-watcher', description: 'Tendril k8s-watcher: Kubernetes objects (or a manifest folder) into NATS KV' })],
  providers: [{ provide: WATCHER_CONFIG, useFactory: readWatcherConfig }, ...providers],
})
export class AppModule {}
