import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ClsModule } from 'nestjs-cls';
import { ClsPluginTransactional } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { publishAfterCommit } from 'nestjs-taskqueue/transactional';
import { DataSource } from 'typeorm';
import { UsersController } from '../users.controller.js';
import { UsersService } from '../users.service.js';
import { PgUsersService } from './pg-users.service.js';

export const USERS_DATABASE_URL = Symbol('USERS_DATABASE_URL');

/** Closes the DataSource when the app shuts down. */
@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** The TypeORM DataSource (PostgreSQL) of the users table. */
@Module({
  providers: [
    {
      provide: DataSource,
      inject: [USERS_DATABASE_URL],
      useFactory: (url: string) => new DataSource({ type: 'postgres', url }).initialize(),
    },
    DataSourceCloser,
  ],
  exports: [DataSource],
})
class UsersDatabaseModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: UsersDatabaseModule,
      global: true,
      providers: [{ provide: USERS_DATABASE_URL, useValue: url }],
      exports: [USERS_DATABASE_URL],
    };
  }
}

/**
 * Users in PostgreSQL. `@nestjs-cls/transactional` runs the sign-up in a
 * transaction; `publishAfterCommit()` holds the welcome email until it commits
 * (and drops it when it rolls back), so the worker never looks for a user that
 * is not there yet, or never will be.
 */
@Module({})
export class UsersDbModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: UsersDbModule,
      imports: [
        UsersDatabaseModule.forRoot(url),
        ClsModule.forRoot({
          global: true,
          plugins: [
            new ClsPluginTransactional({
              adapter: publishAfterCommit(new TransactionalAdapterTypeOrm({ dataSourceToken: DataSource })),
            }),
          ],
        }),
      ],
      controllers: [UsersController],
      providers: [{ provide: UsersService, useClass: PgUsersService }],
    };
  }
}
