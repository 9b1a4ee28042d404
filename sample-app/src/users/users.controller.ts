import { BadRequestException, Body, Controller, Get, Post } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { taskLinks, type TaskLinks } from '../tasks/task-view.js';
import { UsersService, type User } from './users.service.js';

@Controller('users')
export class UsersController {
  private readonly loginUrl: string;

  constructor(
    private readonly users: UsersService,
    config: ConfigService,
  ) {
    const base = config.get<string>('PUBLIC_URL') ?? `http://localhost:${config.get<string>('PORT') ?? 3000}`;
    this.loginUrl = new URL('/login', base).toString();
  }

  /** Registers a user and queues the welcome email; answers at once with the task's id. */
  @Post()
  async register(@Body() body: { email?: unknown } | undefined): Promise<{ user: User; taskId: string } & TaskLinks> {
    const email = body?.email;
    if (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(email.trim())) {
      throw new BadRequestException('body.email must be an email address');
    }
    const { user, welcome } = await this.users.signUp(email, this.loginUrl);
    return { user, taskId: welcome.id, ...taskLinks(welcome) };
  }

  @Get()
  list(): Promise<User[]> {
    return this.users.findAll();
  }
}
