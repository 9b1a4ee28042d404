import { Module } from '@nestjs/common';
import { FlakyController } from './flaky.controller.js';
import { FlakyService } from './flaky.service.js';

@Module({
  controllers: [FlakyController],
  providers: [FlakyService],
})
export class FlakyModule {}
