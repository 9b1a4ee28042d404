import { ConflictException, Injectable, type OnModuleInit } from '@nestjs/common';
import { Transactional, TransactionHost } from '@nestjs-cls/transactional';
import type { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { TaskClient } from 'nestjs-taskqueue';
import { EmailService } from '../../email/email.service.js';
import { UsersService, normalizeEmail, type SignUp, type User } from '../users.service.js';

interface UserRow {
  id: number;
  email: string;
  created_at: Date;
}

const toUser = (r: UserRow): User => ({ id: r.id, email: r.email, createdAt: r.created_at.toISOString() });

/** Users in PostgreSQL (table sample_users, created at startup). */
@Injectable()
export class PgUsersService extends UsersService implements OnModuleInit {
  constructor(
    tasks: TaskClient,
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
  ) {
    super(tasks);
  }

  async onModuleInit(): Promise<void> {
    await this.txHost.tx.query(
      `CREATE TABLE IF NOT EXISTS sample_users (
         id serial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())`,
    );
  }

  /** The row and the welcome email in one transaction: the email is published when it commits. */
  @Transactional()
  override async signUp(email: string, loginUrl: string): Promise<SignUp> {
    const normalized = normalizeEmail(email);
    const rows: UserRow[] = await this.txHost.tx.query(
      'INSERT INTO sample_users (email) VALUES ($1) ON CONFLICT (email) DO NOTHING RETURNING id, email, created_at',
      [normalized],
    );
    if (rows.length === 0) throw new ConflictException(`${normalized} is already registered`);
    const user = toUser(rows[0]);
    const welcome = await this.tasks.for(EmailService).sendWelcome.delay(user.id, loginUrl); // held until commit
    return { user, welcome };
  }

  override async findAll(): Promise<User[]> {
    const rows: UserRow[] = await this.txHost.tx.query('SELECT id, email, created_at FROM sample_users ORDER BY id');
    return rows.map(toUser);
  }
}
