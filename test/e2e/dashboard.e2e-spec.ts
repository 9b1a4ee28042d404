import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TaskClient, TaskQueueConfigError, TaskQueueModule, TaskWorker } from '../../src/index.js';
import { TaskQueueDashboardModule } from '../../src/dashboard/index.js';
import { TaskInspector } from '../../src/control/task-inspector.js';
import { MathService } from '../fixtures/math.service.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function serve(imports: unknown[], prefix: string): Promise<{ app: INestApplication; base: string }> {
  @Module({
    imports: [TaskQueueModule.forRoot({ brokerUrl: REDIS_URL, prefix }), ...(imports as never[])],
    providers: [MathService],
  })
  class DashboardApp {}
  const app = await NestFactory.create(DashboardApp, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

describe('web dashboard in a real browser', () => {
  const prefix = testPrefix('dashboard');
  let app: INestApplication;
  let base: string;
  let browser: Browser;
  let page: Page;
  let client: TaskClient;
  let worker: TaskWorker;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `No Chromium at ${CHROMIUM}: install the chromium package (apt-get install chromium) or set CHROMIUM_PATH.`,
      );
    ({ app, base } = await serve([TaskQueueDashboardModule.forRoot({ path: 'ops/tasks', public: true })], prefix));
    client = app.get(TaskClient);
    worker = app.get(TaskWorker);
    await worker.start({ concurrency: 2 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage();
    page.on('dialog', (d) => void d.accept());
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await cleanupPrefix(prefix);
  });

  it('shows queues, the live worker and what it runs, and terminates a running task from the page', async () => {
    const failed = await client.for(MathService).fail.delay('shown on the dashboard');
    await failed.get({ timeout: 5000 }).catch(() => undefined);
    const gate = 'dashboard-hold';
    const running = await client.for(MathService).stubborn.delay(gate);
    await until(() => MathService.started.has(gate), 5000, 'the task to start');

    await page.goto(`${base}/ops/tasks`);
    await page.waitForSelector(`#workers td:text-is("${worker.id}")`);
    const row = page.locator('#queues tbody tr', { hasText: 'default' });
    await row.waitFor();
    expect(await row.locator('td').first().textContent()).toBe('default');
    await page.waitForSelector(`#active td:text-is("${running.id}")`);

    // the dead-letter count opens the list, with the error
    await row.locator('td').nth(4).locator('button').click();
    await page.waitForSelector('#parked td:has-text("RangeError: shown on the dashboard")');

    // terminate the running task from the "Running now" table
    await page.locator('#active tr', { hasText: running.id }).locator('button', { hasText: 'terminate' }).click();
    await expect(running.get({ timeout: 5000 })).rejects.toThrow(/revoked/);

    // look it up
    await page.fill('#task-id', running.id);
    await page.click('#lookup button');
    await page.waitForSelector('#task-state:has-text("state: REVOKED")');
  });

  it('escapes what it shows (task data is untrusted)', async () => {
    const r = await client.for(MathService).fail.delay('<img src=x onerror="window.__pwned=1">');
    await r.get({ timeout: 5000 }).catch(() => undefined);
    await page.goto(`${base}/ops/tasks`);
    const row = page.locator('#queues tbody tr', { hasText: 'default' });
    await row.locator('td').nth(4).locator('button').click();
    await page.waitForSelector('#parked td:has-text("<img src=x")');
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('#parked img').count()).toBe(0);
  });

  it('answers 400 on bad input, and honours readOnly and canActivate', async () => {
    expect((await fetch(`${base}/ops/tasks/api/tasks/${encodeURIComponent('a b')}`)).status).toBe(400);
    const locked = await serve(
      [
        TaskQueueDashboardModule.forRoot({
          readOnly: true,
          canActivate: (req) => (req as { headers: Record<string, string> }).headers['x-admin'] === 'yes',
        }),
      ],
      prefix,
    );
    try {
      expect((await fetch(`${locked.base}/taskqueue/api/overview`)).status).toBe(403);
      const overview = await fetch(`${locked.base}/taskqueue/api/overview`, { headers: { 'x-admin': 'yes' } });
      expect(overview.status).toBe(200);
      expect(await overview.json()).toMatchObject({ readOnly: true });
      const purge = await fetch(`${locked.base}/taskqueue/api/queues/default/purge`, {
        method: 'POST',
        headers: { 'x-admin': 'yes' },
      });
      expect(purge.status).toBe(403);
    } finally {
      await locked.app.close();
    }
  });

  it('refuses to boot without canActivate unless public: true is set', () => {
    expect(() => TaskQueueDashboardModule.forRoot()).toThrow(TaskQueueConfigError);
    expect(() => TaskQueueDashboardModule.forRoot({ path: 'x' })).toThrow(/canActivate/);
    expect(() => TaskQueueDashboardModule.forRoot({ public: true })).not.toThrow();
    expect(() => TaskQueueDashboardModule.forRoot({ canActivate: () => true })).not.toThrow();
  });

  it('refuses a change without the CSRF token, a cross-site form POST included, and changes nothing', async () => {
    const queue = 'csrf-target';
    const r = await client.for(MathService).add.applyAsync([1, 2], { queue });
    expect((await app.get(TaskInspector).counts(queue)).ready).toBe(1);
    const purge = `${base}/ops/tasks/api/queues/${queue}/purge`;
    // what a cross-site <form enctype="text/plain" method="post"> sends
    const form = await fetch(purge, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      body: 'x=1',
    });
    expect(form.status).toBe(403);
    // no token at all, even same-site
    expect((await fetch(purge, { method: 'POST' })).status).toBe(403);
    // a token without the cookie it must match, and a cookie without the token
    expect((await fetch(purge, { method: 'POST', headers: { 'x-taskqueue-csrf': 'a'.repeat(32) } })).status).toBe(403);
    const pageRes = await fetch(`${base}/ops/tasks`);
    const cookie = pageRes.headers.get('set-cookie')!.split(';')[0];
    expect(pageRes.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect(pageRes.headers.get('content-security-policy')).toMatch(/script-src 'nonce-/);
    const token = /name="taskqueue-csrf" content="([^"]+)"/.exec(await pageRes.text())![1];
    expect((await fetch(purge, { method: 'POST', headers: { cookie } })).status).toBe(403);
    expect((await fetch(purge, { method: 'POST', headers: { cookie, 'x-taskqueue-csrf': token + 'x' } })).status).toBe(
      403,
    );
    // the token from another browser's page does not match this cookie
    expect(
      (
        await fetch(purge, {
          method: 'POST',
          headers: { cookie: 'taskqueue_csrf=' + 'b'.repeat(32), 'x-taskqueue-csrf': token },
        })
      ).status,
    ).toBe(403);
    expect((await app.get(TaskInspector).counts(queue)).ready).toBe(1);
    expect(await r.state()).toBe('PENDING');
    // with both, it goes through
    expect((await fetch(purge, { method: 'POST', headers: { cookie, 'x-taskqueue-csrf': token } })).status).toBe(201);
    expect((await app.get(TaskInspector).counts(queue)).ready).toBe(0);
  });
});
