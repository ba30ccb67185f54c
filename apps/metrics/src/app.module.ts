import { Module } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';

@Module({ imports: [PlatformModule.forRoot({ service: 'metrics', description: 'Tendril metrics: Prometheus, L7 metrics, flows, service map' })] })
export class AppModule {}
