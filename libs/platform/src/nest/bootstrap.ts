/**
 * Starts a service: Nest application, HTTP port, and the shutdown path: on SIGTERM or SIGINT the
 * application closes (workers stop, NATS drains) and the process exits 0; if that takes longer than
 * the deadline it exits 1 rather than hang.
 */
import 'reflect-metadata';
import { Logger, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ServiceName } from '@tendril/contract';
import { envInt, readPlatformConfig } from '../config.js';

export async function bootstrap(service: ServiceName, appModule: Type<unknown>): Promise<void> {
  const logger = new Logger(service);
  const config = readPlatformConfig(service);
  const shutdownDeadlineMs = envInt('TENDRIL_SHUTDOWN_TIMEOUT_MS', 9000, 100);
  const app = await NestFactory.create(appModule, { logger: ['log', 'warn', 'error', 'fatal'], abortOnError: false });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    setTimeout(() => {
      logger.error(`shutdown took longer than ${shutdownDeadlineMs} ms; exiting`);
      process.exit(1);
    }, shutdownDeadlineMs).unref();
    app
      .close()
      .then(() => {
        logger.log('stopped');
        process.exit(0);
      })
      .catch((error: Error) => {
        logger.error(`shutdown failed: ${error.message}`);
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (reason) => logger.error(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`));
  await app.listen(config.httpPort, config.httpHost);
  logger.log(`${service} listening on http://${config.httpHost}:${config.httpPort} (healthz, readyz, metrics); NATS ${config.natsUrl}`);
}
