import { Module } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';
import { TranslatorService } from './translator.service.js';

@Module({
  imports: [PlatformModule.forRoot({ service: 'translator', description: 'Tendril translator: Kubernetes objects -> xDS resources, LB entries, statuses' })],
  providers: [TranslatorService],
})
export class AppModule {}
