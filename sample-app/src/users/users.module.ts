import { Module } from '@nestjs/common';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

// TaskClient comes from the global TaskQueueModule; `tasks.for(EmailService)`
// only needs the class, so EmailModule need not be imported here.
@Module({
  controllers: [UsersController],
  providers: [UsersService],
})
export class UsersModule {}
