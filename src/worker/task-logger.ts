import { Logger, type LoggerService } from '@nestjs/common';
import { correlationStorage } from '../context/correlation.js';
import { taskContextStorage } from './task-context.js';

/**
 * A Nest logger for code that runs inside tasks: each line starts with the
 * task's name and id (and correlation id), so lines of concurrent tasks can be
 * told apart. It writes through Nest's Logger, so the application's logger
 * (nestjs-pino, winston, ...) receives the lines.
 *
 * @example
 * ```ts
 * private readonly log = new TaskLogger(EmailService.name);
 * @Task() async send(id: number) { this.log.log(`sending to ${id}`); }
 * // [EmailService] [email.welcome 2f1c… cid=7a9e…] sending to 42
 * ```
 * @publicApi
 */
export class TaskLogger implements LoggerService {
  private readonly logger: Logger;

  constructor(context?: string) {
    this.logger = context ? new Logger(context) : new Logger();
  }

  /** The prefix for the current task, or '' outside a task. */
  static prefix(): string {
    const task = taskContextStorage.getStore();
    const cid = correlationStorage.getStore();
    if (!task) return cid ? `[cid=${cid}] ` : '';
    return `[${task.name} ${task.id}${cid ? ` cid=${cid}` : ''}] `;
  }

  private line(message: unknown): unknown {
    return typeof message === 'string' ? TaskLogger.prefix() + message : message;
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.logger.log(this.line(message), ...rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.logger.error(this.line(message), ...rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.logger.warn(this.line(message), ...rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.logger.debug(this.line(message), ...rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.logger.verbose(this.line(message), ...rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.logger.fatal(this.line(message), ...rest);
  }
}
