import { bootstrap } from '@tendril/platform';
import { AppModule } from './app.module.js';

await bootstrap('datapath', AppModule);
