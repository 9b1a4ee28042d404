import { randomUUID } from 'node:crypto';

/** The PostgreSQL the tests use: DATABASE_URL, or the local default (trust auth, database `test`). */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A table name of this test file's own (lower case, safe unquoted), so files run in parallel and twice in a row. */
export function testTable(label: string): string {
  return `tq_${label}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
}
