import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TASK_QUEUE_OPTIONS, type ResolvedTaskQueueOptions } from 'nestjs-taskqueue';
import { AppModule } from './app.module.js';
import { describeMode } from './task-queue.settings.js';

const logger = new Logger('SampleApp');
const app = await NestFactory.create(AppModule);
// SIGTERM/SIGINT: stop taking requests, let the embedded worker (if any) finish
// its running tasks, close the broker, then exit 0.
app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });

const port = Number(process.env.PORT ?? 3000);
await app.listen(port);
logger.log(`API listening on ${(await app.getUrl()).replace('[::1]', 'localhost')}`);
logger.log(describeMode(app.get<ResolvedTaskQueueOptions>(TASK_QUEUE_OPTIONS)));
