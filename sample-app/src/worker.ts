import { Logger } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { bootstrapWorker, TASK_QUEUE_OPTIONS, type ResolvedTaskQueueOptions } from 'nestjs-taskqueue';
import { AppModule } from './app.module.js';
import { WORKER_CONCURRENCY, WORKER_QUEUES, describeBroker, taskQueueOptions } from './task-queue.settings.js';

const logger = new Logger('SampleWorker');

// This process *is* the worker: bootstrapWorker() starts it below, so the
// module must not autostart another one (TASKQUEUE_EMBEDDED_WORKER in .env is
// for the API process). ConfigService reads process.env, so this wins over .env.
process.env.TASKQUEUE_EMBEDDED_WORKER = 'false';

await ConfigModule.envVariablesLoaded; // .env has been read into process.env
const { brokerUrl } = taskQueueOptions((key) => process.env[key]);
if (brokerUrl?.startsWith('memory://')) {
  logger.error(
    `The broker is ${brokerUrl}, which lives inside one process: a separate worker would never see the API's tasks. ` +
      'Set TASKQUEUE_BROKER_URL=redis://... for both processes, or just run `npm start` (the API embeds a worker on memory://).',
  );
  process.exit(1);
}

// Same AppModule as the API. SIGTERM/SIGINT: stop fetching, finish running
// tasks (up to shutdownTimeout), give back the rest, exit 0.
// `beat: true`: this worker also runs a beat. Run as many workers as you like:
// the beats elect a leader and each periodic tick is published once.
const app = await bootstrapWorker(AppModule, { queues: WORKER_QUEUES, concurrency: WORKER_CONCURRENCY, beat: true });
logger.log(`Worker ready on broker ${describeBroker(app.get<ResolvedTaskQueueOptions>(TASK_QUEUE_OPTIONS))}`);
