import { Injectable, Logger } from '@nestjs/common';
import { Task, TaskContext } from 'nestjs-taskqueue';

/** One "sent" email, as kept in the in-memory outbox. */
export interface OutboxEntry {
  messageId: string;
  userId: number;
  subject: string;
  body: string;
  sentAt: string;
  /** The task that sent it, and on which attempt (0 = first run). */
  taskId: string;
  attempt: number;
}

/**
 * Sends email. "Sending" is a log line plus an in-memory outbox record: an SMTP
 * server is the only truly external thing here, and the sample does without.
 */
@Injectable()
export class EmailService {
  private readonly logger = new Logger(EmailService.name);
  private readonly sent: OutboxEntry[] = [];

  constructor(private readonly ctx: TaskContext) {}

  /**
   * Runs on the 'email' queue, in whichever process consumes it. Retried up to
   * 3 times on any error, with exponential, jittered backoff.
   *
   * It takes the user's id, not the user: a real app would load the address
   * from its database here. (This sample's users live in the API process's
   * memory, which a separate worker process cannot see, so it addresses the
   * email by id.)
   */
  @Task({ name: 'email.welcome', queue: 'email', retry: { max: 3, backoff: 'exponential', jitter: true } })
  async sendWelcome(userId: number, loginUrl: string): Promise<OutboxEntry> {
    const entry: OutboxEntry = {
      messageId: `welcome-${userId}-${this.ctx.id}`,
      userId,
      subject: 'Welcome!',
      body: `Your account is ready. Log in at ${loginUrl}`,
      sentAt: new Date().toISOString(),
      taskId: this.ctx.id,
      attempt: this.ctx.retries,
    };
    this.sent.push(entry);
    this.logger.log(`Sent welcome email to user #${userId} (task ${this.ctx.id}): ${entry.body}`);
    return entry;
  }

  /** What this process has sent. */
  outbox(): readonly OutboxEntry[] {
    return this.sent;
  }
}
