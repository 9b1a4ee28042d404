import { Controller, Get } from '@nestjs/common';
import { EmailService, type OutboxEntry } from './email.service.js';

@Controller('emails')
export class EmailController {
  constructor(private readonly email: EmailService) {}

  /** Emails sent by *this* process: with an embedded worker, all of them; with a separate worker, see its log. */
  @Get()
  outbox(): readonly OutboxEntry[] {
    return this.email.outbox();
  }
}
