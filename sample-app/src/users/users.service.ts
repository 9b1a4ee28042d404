import { ConflictException, Injectable } from '@nestjs/common';

export interface User {
  id: number;
  email: string;
  createdAt: string;
}

/** Users, kept in this process's memory (a stand-in for a database). */
@Injectable()
export class UsersService {
  private readonly users = new Map<number, User>();
  private nextId = 1;

  register(email: string): User {
    const normalized = email.trim().toLowerCase();
    if ([...this.users.values()].some((u) => u.email === normalized)) {
      throw new ConflictException(`${normalized} is already registered`);
    }
    const user: User = { id: this.nextId++, email: normalized, createdAt: new Date().toISOString() };
    this.users.set(user.id, user);
    return user;
  }

  findAll(): User[] {
    return [...this.users.values()];
  }
}
