import { ConflictException, Injectable } from '@nestjs/common';
import { TaskClient, type AsyncResult } from 'nestjs-taskqueue';
import { EmailService, type OutboxEntry } from '../email/email.service.js';

export interface User {
  id: number;
  email: string;
  createdAt: string;
}

export interface SignUp {
  user: User;
  /** The welcome email's task. */
  welcome: AsyncResult<OutboxEntry>;
}

/**
 * Users, kept in this process's memory (a stand-in for a database). With
 * USERS_DATABASE_URL set, PgUsersService (users/db/) takes its place: users in
 * PostgreSQL, the welcome email published when the sign-up transaction commits.
 */
@Injectable()
export class UsersService {
  private readonly users = new Map<number, User>();
  private nextId = 1;

  constructor(protected readonly tasks: TaskClient) {}

  /** Registers a user and queues the welcome email. */
  async signUp(email: string, loginUrl: string): Promise<SignUp> {
    const user = this.register(email);
    // Typed from EmailService.sendWelcome: (userId: number, loginUrl: string).
    const welcome = await this.tasks.for(EmailService).sendWelcome.delay(user.id, loginUrl);
    return { user, welcome };
  }

  register(email: string): User {
    const normalized = normalizeEmail(email);
    if ([...this.users.values()].some((u) => u.email === normalized)) {
      throw new ConflictException(`${normalized} is already registered`);
    }
    const user: User = { id: this.nextId++, email: normalized, createdAt: new Date().toISOString() };
    this.users.set(user.id, user);
    return user;
  }

  async findAll(): Promise<User[]> {
    return [...this.users.values()];
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
