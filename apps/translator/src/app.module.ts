import { Module } from '@nestjs/common';
import { PlatformModule } from '@tendril/platform';
import { HistoryService } from './history/history.service.js';
import { PolicyService } from './policy/policy.service.js';
import { TranslatorService } from './translator.service.js';

@Module({
  imports: [PlatformModule.forRoot({ service: 'translator', description: 'Tendril translator: Kubernetes objects -> xDS resources, LB entries, statuses', lease: true })],
  providers: [HistoryService, TranslatorService, PolicyService],
})
export class AppModule {}
