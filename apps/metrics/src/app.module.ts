import { Module } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';
import { MeshFigures } from './mesh-figures.js';

@Module({
  imports: [PlatformModule.forRoot({ service: 'metrics', description: 'Tendril metrics: Prometheus, L7 metrics, flows, service map' })],
  providers: [MeshFigures],
})
export class AppModule {}
