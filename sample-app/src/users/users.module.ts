import { Module, type DynamicModule } from '@nestjs/common';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

// TaskClient comes from the global TaskQueueModule; `tasks.for(EmailService)`
// only needs the class, so EmailModule need not be imported here.
@Module({
  controllers: [UsersController],
  providers: [UsersService],
})
export class UsersModule {
  /**
   * Users in memory; or, with `databaseUrl` (USERS_DATABASE_URL), in PostgreSQL
   * with the sign-up in a transaction (users/db/, loaded only then, so the
   * quickstart needs neither a database nor its packages).
   */
  static async register(databaseUrl?: string): Promise<DynamicModule> {
    if (!databaseUrl) return { module: UsersModule };
    const { UsersDbModule } = await import('./db/users-db.module.js');
    return UsersDbModule.forRoot(databaseUrl);
  }
}
