import { ForbiddenException, type ExecutionContext } from '@nestjs/common';
import { DashboardGuard, readCookie } from '../../src/dashboard/dashboard.guard.js';
import type { TaskQueueDashboardOptions } from '../../src/dashboard/dashboard.options.js';

const TOKEN = 'A'.repeat(32);

function context(method: string, headers: Record<string, string | undefined>): ExecutionContext {
  const request = { method, headers };
  return { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

const guard = (options: TaskQueueDashboardOptions = { public: true }) => new DashboardGuard(options);

describe('DashboardGuard', () => {
  it('lets reads through and asks canActivate first', async () => {
    expect(await guard().canActivate(context('GET', {}))).toBe(true);
    expect(await guard({ canActivate: () => false }).canActivate(context('GET', {}))).toBe(false);
    expect(await guard({ canActivate: () => false }).canActivate(context('POST', {}))).toBe(false);
  });

  it('needs the header to equal the cookie on every change', async () => {
    const ok = { cookie: `other=1; taskqueue_csrf=${TOKEN}`, 'x-taskqueue-csrf': TOKEN };
    expect(await guard().canActivate(context('POST', ok))).toBe(true);
    expect(await guard().canActivate(context('DELETE', ok))).toBe(true);
    for (const headers of [
      {},
      { cookie: `taskqueue_csrf=${TOKEN}` },
      { 'x-taskqueue-csrf': TOKEN },
      { cookie: `taskqueue_csrf=${TOKEN}`, 'x-taskqueue-csrf': TOKEN.slice(1) + 'B' },
      { cookie: 'taskqueue_csrf=', 'x-taskqueue-csrf': '' },
      { cookie: 'taskqueue_csrf=short', 'x-taskqueue-csrf': 'short' },
      // as long in characters, not in bytes: refused, not a crash
      { cookie: `taskqueue_csrf=${TOKEN}`, 'x-taskqueue-csrf': 'é'.repeat(32) },
      { cookie: 'taskqueue_csrf=%E0%A4%A', 'x-taskqueue-csrf': '%E0%A4%A' },
      { ...ok, 'sec-fetch-site': 'cross-site' },
      { ...ok, 'sec-fetch-site': 'same-site' },
    ])
      await expect(guard().canActivate(context('POST', headers))).rejects.toBeInstanceOf(ForbiddenException);
    expect(await guard().canActivate(context('POST', { ...ok, 'sec-fetch-site': 'same-origin' }))).toBe(true);
  });

  it('refuses every change in read-only mode, token or not', async () => {
    const ok = { cookie: `taskqueue_csrf=${TOKEN}`, 'x-taskqueue-csrf': TOKEN };
    await expect(guard({ public: true, readOnly: true }).canActivate(context('POST', ok))).rejects.toThrow(/read-only/);
  });

  it('reads one cookie among several', () => {
    expect(readCookie({ headers: { cookie: 'a=1; b = 2 ;c=x%20y' } }, 'b')).toBe('2');
    expect(readCookie({ headers: { cookie: 'a=1; b = 2 ;c=x%20y' } }, 'c')).toBe('x y');
    expect(readCookie({ headers: {} }, 'a')).toBeUndefined();
  });
});
