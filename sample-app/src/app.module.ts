import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TaskCorrelationMiddleware, TaskQueueModule } from 'nestjs-taskqueue';
import { TaskQueueDashboardModule } from 'nestjs-taskqueue/dashboard';
import { EmailModule } from './email/email.module.js';
import { FlakyModule } from './flaky/flaky.module.js';
import { HealthModule } from './health/health.module.js';
import { MaintenanceModule } from './maintenance/maintenance.module.js';
import { PythonModule } from './python/python.module.js';
import { ReportsModule } from './reports/reports.module.js';
import { TasksModule } from './tasks/tasks.module.js';
import { taskQueueOptions } from './task-queue.settings.js';
import { UsersModule } from './users/users.module.js';

/**
 * The one module both processes boot: `main.ts` as the HTTP API, `worker.ts`
 * (`nest start worker`) as the worker (with an embedded beat). `@Task()` methods are found in every
 * provider, whichever module declares it; TaskClient is global.
 */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    TaskQueueModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => taskQueueOptions((key) => config.get<string>(key)),
    }),
    EmailModule,
    // USERS_DATABASE_URL=postgres://...: users in PostgreSQL, the welcome email published after commit.
    UsersModule.register(process.env.USERS_DATABASE_URL),
    ReportsModule,
    FlakyModule,
    TasksModule,
    HealthModule,
    MaintenanceModule,
    PythonModule,
    // The operators' dashboard at /taskqueue, open for the demo: a real app passes canActivate instead of public.
    TaskQueueDashboardModule.forRoot({ public: true }),
  ],
})
export class AppModule implements NestModule {
  /** A correlation id per request (from x-correlation-id, or new) follows every task it causes. */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TaskCorrelationMiddleware).forRoutes('*');
  }
}
