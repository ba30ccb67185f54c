import { Module, type Provider } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';
import { WATCHER_CONFIG, readWatcherConfig, readWatcherMode } from './config.js';
import { StandaloneSource } from './standalone-source.js';
import { StandaloneOwned } from './owned-standalone.js';
import { StatusLog } from './status-log.js';

// The mode decides which source runs: the manifest folder, or the Kubernetes API (with status written
// back). The Kubernetes side is loaded only in that mode: its client is tens of MiB a standalone
// watcher has no use for.
const providers = readWatcherMode() === 'kubernetes' ? await kubernetesProviders() : [StandaloneSource, StandaloneOwned, StatusLog];

async function kubernetesProviders(): Promise<Provider[]> {
  const [{ KubeConnection, KubeSource }, { StatusWriter }, { KubeOwned }] = await Promise.all([import('./kube-source.js'), import('./status-writer.js'), import('./owned-kube.js')]);
  return [KubeConnection, KubeSource, StatusWriter, KubeOwned];
}

@Module({
  imports: [PlatformModule.forRoot({ service: 'k8s-watcher', description: 'Tendril k8s-watcher: Kubernetes objects (or a manifest folder) into NATS KV' })],
  providers: [{ provide: WATCHER_CONFIG, useFactory: readWatcherConfig }, ...providers],
})
export class AppModule {}
