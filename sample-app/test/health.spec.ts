/**
 * The sample's GET /health controller, in-process with
 * nestjs-taskqueue/testing: ok while the embedded worker heartbeats, 503 with
 * the reason without a worker. (test/e2e/health.e2e-spec.ts drives the built
 * app over HTTP with Redis.)
 */
import { ServiceUnavailableException } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test, type TestingModule } from '@nestjs/testing';
import { TaskQueueTestingModule } from 'nestjs-taskqueue/testing';
import { HealthController } from '../src/health/health.controller.js';
import { HealthModule } from '../src/health/health.module.js';

async function boot(worker: boolean): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true }),
      TaskQueueTestingModule.forRoot({ worker }),
      HealthModule,
    ],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef;
}

describe('HealthController', () => {
  it('is ok while a worker heartbeats', async () => {
    const moduleRef = await boot(true);
    try {
      await expect(moduleRef.get(HealthController).check()).resolves.toMatchObject({
        status: 'ok',
        info: { broker: { status: 'up' }, workers: { status: 'up', workers: 1 } },
      });
    } finally {
      await moduleRef.close();
    }
  });

  it('answers 503 saying that no worker is alive', async () => {
    const moduleRef = await boot(false);
    try {
      const err = await moduleRef
        .get(HealthController)
        .check()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServiceUnavailableException);
      expect((err as ServiceUnavailableException).getResponse()).toMatchObject({
        status: 'error',
        error: {
          workers: { status: 'down', message: 'no worker has sent a heartbeat in the last 30000 ms (0 of 1 required)' },
        },
      });
    } finally {
      await moduleRef.close();
    }
  });
});
