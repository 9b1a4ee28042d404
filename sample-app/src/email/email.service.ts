import { Injectable } from '@nestjs/common';
import { Task, TaskContext, TaskLogger, currentCorrelationId } from 'nestjs-taskqueue';

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
  /** The correlation id of the HTTP request that caused it. */
  correlationId?: string;
}

/**
 * Sends email. "Sending" is a log line plus an in-memory outbox record: an SMTP
 * server is the only truly external thing here, and the sample does without.
 */
@Injectable()
export class EmailService {
  /** Each line starts with the task's name, id and the request's correlation id. */
  private readonly logger = new TaskLogger(EmailService.name);
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
      correlationId: currentCorrelationId(),
    };
    this.sent.push(entry);
    this.logger.log(`Sent welcome email to user #${userId}: ${entry.body}`);
    return entry;
  }

  /** Drops all but the newest `keep` entries; returns how many were dropped. */
  trimOutbox(keep: number): number {
    const removed = Math.max(0, this.sent.length - keep);
    this.sent.splice(0, removed);
    return removed;
  }

  /** What this process has sent. */
  outbox(): readonly OutboxEntry[] {
    return this.sent;
  }
}
