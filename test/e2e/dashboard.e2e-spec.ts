import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Dialog, type Page } from 'playwright-core';
import {
  chain,
  PeriodicSchedules,
  TaskClient,
  TaskInspector,
  TaskQueueConfigError,
  TaskQueueModule,
  TaskState,
  TaskWorker,
} from '../../src/index.js';
import { TaskQueueDashboardModule } from '../../src/dashboard/index.js';
import { encodeMessage, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import type { Transport } from '../../src/transport/index.js';
import { MathService } from '../fixtures/math.service.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots land here (git-ignored). */
const SHOTS = join(process.cwd(), 'test-output', 'dashboard');
const XSS = '<img src=x onerror="window.__pwned=1">';

async function serve(
  imports: unknown[],
  prefix: string,
  events = true,
): Promise<{ app: INestApplication; base: string }> {
  @Module({
    imports: [TaskQueueModule.forRoot({ brokerUrl: REDIS_URL, prefix, events }), ...(imports as never[])],
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
  let inspector: TaskInspector;
  let transport: Transport;
  /** What the next prompt() is answered with (the purge confirmation asks for the queue name). */
  let answer: string | undefined;
  const dialogs: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const open = async () => {
    await page.goto(`${base}/ops/tasks`);
    await page.waitForSelector('#live.on');
  };
  /**
   * Parks messages in a queue's dead-letter list as a worker does after the
   * last retry (fail() of a message nobody holds: nothing can run it first).
   */
  const deadLetter = async (queue: string, items: Array<{ id: string; args: unknown[] }>) => {
    for (const { id, args } of items)
      await transport.fail(
        {
          queue,
          id,
          record: { id, state: TaskState.FAILURE, at: Date.now(), error: { type: 'Error', message: 'gave up' } },
          resultTtlMs: 60_000,
        },
        encodeMessage({
          id,
          priority: 5,
          queue,
          task: 'math.add',
          retries: 3,
          created: Date.now(),
          args,
          v: PROTOCOL_VERSION,
        }),
      );
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `No Chromium at ${CHROMIUM}: install the chromium package (apt-get install chromium) or set CHROMIUM_PATH.`,
      );
    mkdirSync(SHOTS, { recursive: true });
    ({ app, base } = await serve([TaskQueueDashboardModule.forRoot({ path: 'ops/tasks', public: true })], prefix));
    client = app.get(TaskClient);
    worker = app.get(TaskWorker);
    inspector = app.get(TaskInspector);
    transport = app.get<Transport>(TASK_QUEUE_TRANSPORT);
    await worker.start({ concurrency: 2, queues: ['default', `${prefix}-replay`] });
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
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('dialog', (d: Dialog) => {
      dialogs.push(d.message());
      void (d.type() === 'prompt' ? d.accept(answer ?? '') : d.accept());
    });
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

    await open();
    await page.waitForSelector(`#workers td:text-is("${worker.id}")`);
    const row = page.locator('#queues tbody tr[data-queue="default"]');
    await row.waitFor();
    await page.waitForSelector(`#active td:text-is("${running.id}")`);
    await shot('overview');

    // the dead-letter count opens the list, with the error
    await row.locator('td').nth(4).locator('button').click();
    await page.waitForSelector('#parked td:has-text("RangeError: shown on the dashboard")');

    // terminate the running task from the "Running now" table
    await page.locator('#active tr', { hasText: running.id }).locator('button', { hasText: 'terminate' }).click();
    await expect(running.get({ timeout: 5000 })).rejects.toThrow(/revoked/);

    // look it up
    await page.fill('#task-id', running.id);
    await page.click('#lookup button');
    await page.waitForSelector('#task-state:has-text("REVOKED")');
  });

  it('lists tasks from the events, filters them, and shows a task in detail (args, error, traceback, timeline, workflow)', async () => {
    const ok = await client.for(MathService).add.delay(20, 22);
    await ok.get({ timeout: 5000 });
    const bad = await client.for(MathService).fail.delay('detail failure');
    await bad.get({ timeout: 5000 }).catch(() => undefined);
    const t = client.for(MathService);
    const flow = await chain(t.add.s(1, 2), t.add.s(10)).delay();
    expect(await flow.get({ timeout: 5000 })).toBe(13);

    await open();
    await page.waitForSelector(`#tasks tr[data-id="${ok.id}"] td:text-is("SUCCESS")`);
    await page.waitForSelector(`#tasks tr[data-id="${bad.id}"] td:text-is("FAILURE")`);
    // the queue's chart of finished tasks per minute: green and red bars, and the failure rate
    const queueRow = page.locator('#queues tbody tr[data-queue="default"]');
    await queueRow.locator('svg.chart rect[fill="#3a9a5b"]').first().waitFor();
    await queueRow.locator('svg.chart rect[fill="#c8473d"]').first().waitFor();
    expect(await queueRow.locator('td').nth(7).textContent()).toMatch(/^\d+\.\d %$/);

    // filter by state
    await page.selectOption('#f-state', 'FAILURE');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector(`#tasks tr[data-id="${bad.id}"]`);
    await page.waitForSelector(`#tasks tr[data-id="${ok.id}"]`, { state: 'detached' });
    // by task name and argument text
    await page.click('#f-clear');
    await page.fill('#f-task', 'math.add');
    await page.fill('#f-search', '20,22');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector(`#tasks tr[data-id="${ok.id}"]`);
    expect(await page.locator('#tasks tbody tr').count()).toBe(1);
    // by queue, worker and a time range that excludes everything, then one that includes it
    await page.click('#f-clear');
    await page.fill('#f-queue', 'default');
    await page.fill('#f-worker', worker.id);
    await page.fill('#f-to', '2001-01-01T00:00');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector('#tasks td.empty:text-is("no task matches")');
    await page.fill('#f-to', '');
    await page.fill('#f-from', '2001-01-01T00:00');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector(`#tasks tr[data-id="${ok.id}"]`);
    // search by id
    await page.click('#f-clear');
    await page.fill('#f-search', bad.id.slice(0, 13));
    await page.click('#filters button[type=submit]');
    await page.waitForSelector(`#tasks tr[data-id="${bad.id}"]`);
    await shot('tasks-filtered');

    // detail of the failure: arguments, error, traceback, timeline
    await page.click(`#tasks tr[data-id="${bad.id}"]`);
    await page.waitForSelector('#task-state:has-text("FAILURE")');
    await page.waitForSelector('#task dd:text-is("[\\"detail failure\\"]")');
    await page.waitForSelector('#task dd:text-is("RangeError: detail failure")');
    expect(await page.locator('#traceback').textContent()).toMatch(/RangeError: detail failure\n\s+at /);
    for (const type of ['task-sent', 'task-received', 'task-started', 'task-failed'])
      await page.waitForSelector(`#timeline td:text-is("${type}")`);
    await shot('task-detail');

    // the workflow tree: the first step shows its child, the second its parent
    const first = flow.parent!.id;
    await page.fill('#task-id', first);
    await page.click('#lookup button');
    await page.waitForSelector(`#workflow button:has-text("[${flow.id}]")`);
    await page.click(`#workflow button:has-text("[${flow.id}]")`);
    await page.waitForSelector(`#workflow button:has-text("[${first}]")`);
    await page.waitForSelector('#task dd:text-is("13")');
  });

  it("shows each worker's memory and controls it: pool grow and shrink, consume a queue and stop", async () => {
    const extra = `${prefix}-extra`;
    const concurrency = async () => (await inspector.stats({ destination: [worker.id] }))[0].stats.concurrency;
    const queues = async () => (await inspector.stats({ destination: [worker.id] }))[0].stats.queues;
    await open();
    const row = page.locator(`#workers tr[data-worker="${worker.id}"]`);
    await row.locator('td.mem:has-text("MB")').waitFor();
    const before = await concurrency();
    await row.locator('button', { hasText: 'grow' }).click();
    await page.waitForSelector(`#worker-result:text-is("${worker.id}: grow done, concurrency ${before + 1}")`);
    expect(await concurrency()).toBe(before + 1);
    await row.locator('button', { hasText: 'shrink' }).click();
    await page.waitForSelector(`#worker-result:text-is("${worker.id}: shrink done, concurrency ${before}")`);
    expect(await concurrency()).toBe(before);

    answer = extra;
    await row.locator('button', { hasText: 'consume…' }).click();
    await page.waitForSelector(`#worker-result:has-text("${worker.id}: add-consumer done")`);
    answer = undefined;
    expect(await queues()).toContain(extra);
    const r = await client.for(MathService).add.applyAsync([2, 3], { queue: extra });
    expect(await r.get({ timeout: 5000 })).toBe(5);
    await shot('workers');
    await row.locator(`span:has-text("${extra}") button`).click();
    await page.waitForSelector(`#worker-result:has-text("${worker.id}: cancel-consumer done")`);
    expect(dialogs.at(-1)).toBe(`Stop ${worker.id} consuming "${extra}"?`);
    expect(await queues()).not.toContain(extra);
  });

  it('shuts a worker down after a confirmation', async () => {
    // a worker of its own in a second app on the same broker, so the others keep running
    const other = await serve([TaskQueueDashboardModule.forRoot({ public: true })], prefix, false);
    const otherWorker = other.app.get(TaskWorker);
    try {
      await otherWorker.start({ concurrency: 1, queues: [`${prefix}-other`] });
      await until(async () => (await inspector.workers()).some((w) => w.id === otherWorker.id), 5000, 'its heartbeat');
      await open();
      const row = page.locator(`#workers tr[data-worker="${otherWorker.id}"]`);
      await row.locator('button', { hasText: 'shutdown' }).click();
      await page.waitForSelector(`#worker-result:text-is("${otherWorker.id}: shutdown done")`);
      expect(dialogs.at(-1)).toMatch(new RegExp(`^Shut down worker ${otherWorker.id}\\?`));
      await until(() => !otherWorker.running, 5000, 'the worker to stop');
      expect(worker.running).toBe(true);
    } finally {
      await page.goto('about:blank');
      await other.app.close();
    }
  });

  it('revokes and terminates tasks by a name pattern', async () => {
    const gate = 'dashboard-by-name';
    const r = await client.for(MathService).progress.delay(1, gate);
    await until(async () => (await r.state()) === 'PROGRESS', 5000, 'the task to run');
    await open();
    await page.fill('#revoke-pattern', 'math.prog*');
    await page.check('#revoke-terminate');
    await page.click('#revoke-name button[type=submit]');
    await page.waitForSelector(`#revoke-result:text-is("revoked 1 now: ${r.id}")`);
    expect(dialogs.at(-1)).toMatch(/^Revoke every task named "math.prog\*" and terminate those running\?/);
    await expect(r.get({ timeout: 5000 })).rejects.toThrow(/revoked/);
  });

  it("lists the registered tasks and changes a task's rate and time limits on the workers", async () => {
    await open();
    const row = page.locator('#registered tr[data-task="math.record"]');
    await row.locator(`td:text-is("${worker.id}")`).waitFor();
    await row.locator('input.rate').fill('100/s');
    await row.locator('td').nth(2).locator('button').click();
    await page.waitForSelector('#limit-result:text-is("math.record: rate-limit set on 1 worker(s), 100 per 1000 ms")');
    await row.locator('input.rate').fill('');
    await row.locator('td').nth(2).locator('button').click();
    await page.waitForSelector('#limit-result:text-is("math.record: rate-limit set on 1 worker(s), no limit")');
    await row.locator('input.soft').fill('20s');
    await row.locator('input.hard').fill('30s');
    await row.locator('td').nth(3).locator('button').click();
    await page.waitForSelector(
      '#limit-result:text-is("math.record: time-limit set on 1 worker(s), soft 20000 ms, hard 30000 ms")',
    );
    await row.locator('input.soft').fill('');
    await row.locator('input.hard').fill('');
    await row.locator('td').nth(3).locator('button').click();
    await page.waitForSelector(
      '#limit-result:text-is("math.record: time-limit set on 1 worker(s), soft none, hard none")',
    );
    await row.locator('input.rate').fill('fast please');
    await row.locator('td').nth(2).locator('button').click();
    await page.waitForSelector('#limit-result:has-text("math.record: rate-limit failed")');
  });

  it('revokes a waiting task from its detail', async () => {
    const r = await client.for(MathService).add.applyAsync([1, 1], { countdown: 60_000 });
    await open();
    await page.fill('#task-id', r.id);
    await page.click('#lookup button');
    await page.waitForSelector('#task-state:has-text("PENDING")');
    await page.locator('#task-state button', { hasText: 'revoke' }).click();
    await page.waitForSelector('#task-state:has-text("REVOKED")');
    expect(await r.state()).toBe('REVOKED');
    expect(await page.locator('#task-state button').count()).toBe(0);
  });

  it('updates live: a task finishing shows in the list within a second', async () => {
    await open();
    const gate = 'dashboard-live';
    const r = await client.for(MathService).hold.delay(gate);
    await page.waitForSelector(`#tasks tr[data-id="${r.id}"] td:text-is("STARTED")`, { timeout: 5000 });
    MathService.gates.add(gate);
    await r.get({ timeout: 5000 });
    await page.waitForSelector(`#tasks tr[data-id="${r.id}"] td:text-is("SUCCESS")`, { timeout: 1000 });
  });

  it('feeds every open page from one blocking reader of the stream per process', async () => {
    // count the blocking reads the real inspector makes (a wrapper around it, nothing replaced)
    const original = inspector.events.bind(inspector);
    let inflight = 0;
    let most = 0;
    let reads = 0;
    inspector.events = async (o = {}) => {
      if (o.block === undefined) return original(o);
      reads++;
      most = Math.max(most, ++inflight);
      try {
        return await original(o);
      } finally {
        inflight--;
      }
    };
    const pages = await Promise.all([1, 2, 3].map(() => browser.newPage()));
    try {
      await Promise.all(
        pages.map(async (p) => {
          await p.goto(`${base}/ops/tasks`);
          await p.waitForSelector('#live.on');
        }),
      );
      const r = await client.for(MathService).add.delay(5, 5);
      await r.get({ timeout: 5000 });
      await Promise.all(pages.map((p) => p.waitForSelector(`#tasks tr[data-id="${r.id}"] td:text-is("SUCCESS")`)));
      expect(reads).toBeGreaterThan(0);
      expect(most).toBe(1);
    } finally {
      inspector.events = original;
      await Promise.all(pages.map((p) => p.close()));
    }
  });

  it('replays one, selected and all dead letters, and deletes them', async () => {
    const queue = `${prefix}-replay`;
    const ids = ['a', 'b', 'c', 'd', 'e'].map((x) => `${x}-${prefix}`);
    await deadLetter(
      queue,
      ids.map((id, i) => ({ id, args: [i, 100] })),
    );
    expect((await inspector.counts(queue)).dead).toBe(5);
    // the worker consumes the queue: replayed letters run (math.add) and succeed
    await open();
    await page.locator(`#queues tbody tr[data-queue="${queue}"] td`).nth(4).locator('button').click();
    await page.waitForSelector(`#parked tr[data-id="${ids[0]}"]`);
    await shot('dead-letters');

    // one, from its row
    await page.locator(`#parked tr[data-id="${ids[0]}"] button`, { hasText: 'replay' }).click();
    await page.waitForSelector(`#parked tr[data-id="${ids[0]}"]`, { state: 'detached' });
    expect(await (await client.result(ids[0], queue)).get({ timeout: 5000 })).toBe(100);

    // selected
    await page.check(`#parked tr[data-id="${ids[1]}"] input.pick-parked`);
    await page.check(`#parked tr[data-id="${ids[2]}"] input.pick-parked`);
    await page.click('#replay-selected');
    await page.waitForSelector('#parked-result:text-is("replayed 2")');
    expect(await (await client.result(ids[2], queue)).get({ timeout: 5000 })).toBe(102);

    // delete one selected, then replay all (the last one)
    await page.check(`#parked tr[data-id="${ids[3]}"] input.pick-parked`);
    await page.click('#delete-selected');
    await page.waitForSelector('#parked-result:text-is("deleted 1")');
    expect(dialogs.at(-1)).toMatch(/Delete 1 dead entry of/);
    await page.click('#replay-all');
    await page.waitForSelector('#parked-result:text-is("replayed 1")');
    expect(await (await client.result(ids[4], queue)).get({ timeout: 5000 })).toBe(104);
    expect(await (await client.result(ids[3], queue)).state()).toBe('FAILURE');
    expect((await inspector.counts(queue)).dead).toBe(0);

    // delete all
    await deadLetter(queue, [{ id: `f-${prefix}`, args: [1, 1] }]);
    await page.locator(`#queues tbody tr[data-queue="${queue}"] td`).nth(4).locator('button').click();
    await page.waitForSelector(`#parked tr[data-id="f-${prefix}"]`);
    await page.click('#delete-all');
    await page.waitForSelector('#parked-result:text-is("deleted 1")');
    expect((await inspector.counts(queue)).dead).toBe(0);
  });

  it('purges a queue only after a confirmation that names what will be removed', async () => {
    const queue = `${prefix}-purge`;
    await client.for(MathService).add.applyAsync([1, 1], { queue });
    await client.for(MathService).add.applyAsync([1, 1], { queue, countdown: 60_000 });
    await open();
    const purgeButton = page.locator(`#queues tbody tr[data-queue="${queue}"] button`, { hasText: 'purge' });
    answer = 'not the name';
    await purgeButton.click();
    await until(() => dialogs.at(-1)?.startsWith('Not purged') === true, 5000, 'the refusal');
    expect(dialogs.at(-2)).toBe(
      `Purge queue "${queue}": this removes 1 ready, 1 delayed and 0 running message(s), 0 dead letter(s), 0 rejected message(s) and every stored result of the queue. Type the queue name to confirm.`,
    );
    expect(await inspector.counts(queue)).toMatchObject({ ready: 1, delayed: 1 });
    answer = queue;
    await purgeButton.click();
    await page.waitForSelector(`#queues tbody tr[data-queue="${queue}"]`, { state: 'detached' });
    expect(await inspector.counts(queue)).toMatchObject({ ready: 0, delayed: 0 });
    answer = undefined;
  });

  it('pauses and resumes a schedule', async () => {
    const schedules = app.get(PeriodicSchedules);
    const name = `${prefix}-nightly`;
    await schedules.add(name, { task: 'math.add', every: '1h', args: [1, 2] });
    try {
      await open();
      const row = page.locator(`#schedules tr[data-schedule="${name}"]`);
      await row.locator('td:text-is("every 3600 s")').waitFor();
      await shot('schedules');
      await row.locator('button', { hasText: 'pause' }).click();
      await row.locator('td:text-is("paused")').waitFor();
      expect((await schedules.get(name))?.paused).toBe(true);
      await row.locator('button', { hasText: 'resume' }).click();
      await row.locator('td:text-is("active")').waitFor();
      expect((await schedules.get(name))?.paused).toBe(false);
    } finally {
      await schedules.remove(name);
    }
  });

  it('renders an XSS payload in arguments, task names and errors inert', async () => {
    const r = await client.for(MathService).fail.delay(XSS);
    await r.get({ timeout: 5000 }).catch(() => undefined);
    // a message naming a task that does not exist, the payload as its name: the worker rejects it
    const queue = 'default';
    const id = `xss-${prefix}`;
    await transport.publish([
      {
        queue,
        id,
        priority: 5,
        raw: encodeMessage({
          id,
          priority: 5,
          queue,
          task: XSS,
          retries: 0,
          created: Date.now(),
          args: [XSS],
          v: PROTOCOL_VERSION,
        }),
      },
    ]);
    await until(async () => (await inspector.rejected(queue)).some((e) => e.id === id), 5000, 'the rejection');

    await open();
    await page.waitForSelector(`#tasks tr[data-id="${r.id}"] td:text-is("FAILURE")`);
    // the list, the detail, the dead letters and the rejected messages all show the payload as text
    await page.click(`#tasks tr[data-id="${r.id}"]`);
    await page.waitForSelector(`#task dd:has-text("${XSS.slice(0, 12)}")`);
    const row = page.locator('#queues tbody tr[data-queue="default"]');
    await row.locator('td').nth(4).locator('button').click();
    await page.waitForSelector('#parked td:has-text("RangeError: <img src=x")');
    await row.locator('td').nth(5).locator('button').click();
    await page.locator('#parked td', { hasText: XSS }).first().waitFor();
    await shot('xss-inert');
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
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
      false,
    );
    try {
      expect((await fetch(`${locked.base}/taskqueue/api/overview`)).status).toBe(403);
      expect((await fetch(`${locked.base}/taskqueue`)).status).toBe(403);
      const overview = await fetch(`${locked.base}/taskqueue/api/overview`, { headers: { 'x-admin': 'yes' } });
      expect(overview.status).toBe(200);
      expect(await overview.json()).toMatchObject({ readOnly: true, events: false });
      const page = await fetch(`${locked.base}/taskqueue`, { headers: { 'x-admin': 'yes' } });
      const cookie = page.headers.get('set-cookie')!.split(';')[0];
      const token = /name="taskqueue-csrf" content="([^"]+)"/.exec(await page.text())![1];
      // read-only refuses every change, even with a valid token
      for (const path of ['queues/default/purge', 'queues/default/dead/replay', 'tasks/x/revoke'])
        expect(
          (
            await fetch(`${locked.base}/taskqueue/api/${path}`, {
              method: 'POST',
              headers: { 'x-admin': 'yes', cookie, 'x-taskqueue-csrf': token, 'content-type': 'application/json' },
              body: JSON.stringify({ all: true }),
            })
          ).status,
        ).toBe(403);
      expect(
        await (await fetch(`${locked.base}/taskqueue/api/tasks`, { headers: { 'x-admin': 'yes' } })).json(),
      ).toEqual({
        events: false,
        tasks: [],
      });
    } finally {
      await locked.app.close();
    }
  });

  it('shows no buttons in read-only mode and says what needs the events option', async () => {
    const ro = await serve([TaskQueueDashboardModule.forRoot({ public: true, readOnly: true })], prefix, false);
    try {
      await page.goto(`${ro.base}/taskqueue`);
      await page.waitForSelector('#queues tbody tr[data-queue="default"]');
      expect(await page.locator('#events-note').isVisible()).toBe(true);
      expect(await page.locator('#queues button', { hasText: 'purge' }).count()).toBe(0);
      expect(await page.locator('#revoke-name').isVisible()).toBe(false);
      expect(await page.locator('#workers button').count()).toBe(0);
      await page.locator('#queues tbody tr[data-queue="default"] td').nth(4).locator('button').click();
      await page.waitForSelector('#parked tbody tr');
      expect(await page.locator('#parked-actions').isVisible()).toBe(false);
      expect(await page.locator('#parked button', { hasText: 'replay' }).count()).toBe(0);
      await shot('read-only');
    } finally {
      await page.goto('about:blank');
      await ro.app.close();
    }
  });

  it('refuses to boot without canActivate unless public: true is set', () => {
    expect(() => TaskQueueDashboardModule.forRoot()).toThrow(TaskQueueConfigError);
    expect(() => TaskQueueDashboardModule.forRoot({ path: 'x' })).toThrow(/canActivate/);
    expect(() => TaskQueueDashboardModule.forRoot({ public: true })).not.toThrow();
    expect(() => TaskQueueDashboardModule.forRoot({ canActivate: () => true })).not.toThrow();
  });

  it('refuses a change without the CSRF token, a cross-site form POST included, and changes nothing', async () => {
    const queue = `${prefix}-csrf`;
    await deadLetter(queue, [{ id: `dead-${prefix}`, args: [1, 1] }]);
    const r = await client.for(MathService).add.applyAsync([1, 2], { queue });
    expect(await inspector.counts(queue)).toMatchObject({ ready: 1, dead: 1 });
    const purge = `${base}/ops/tasks/api/queues/${queue}/purge`;
    const replay = `${base}/ops/tasks/api/queues/${queue}/dead/replay`;
    // what a cross-site <form enctype="text/plain" method="post"> sends
    for (const url of [purge, replay]) {
      const form = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        body: '{"all":true, "x":"=1"}',
      });
      expect(form.status).toBe(403);
    }
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
    // the token of another browser's page does not match this cookie
    expect(
      (
        await fetch(purge, {
          method: 'POST',
          headers: { cookie: 'taskqueue_csrf=' + 'b'.repeat(32), 'x-taskqueue-csrf': token },
        })
      ).status,
    ).toBe(403);
    // a valid token from a page the browser marks cross-site
    expect(
      (
        await fetch(purge, {
          method: 'POST',
          headers: { cookie, 'x-taskqueue-csrf': token, 'sec-fetch-site': 'cross-site' },
        })
      ).status,
    ).toBe(403);
    expect(await inspector.counts(queue)).toMatchObject({ ready: 1, dead: 1 });
    expect(await r.state()).toBe('PENDING');
    // with both, it goes through
    expect((await fetch(purge, { method: 'POST', headers: { cookie, 'x-taskqueue-csrf': token } })).status).toBe(201);
    expect(await inspector.counts(queue)).toMatchObject({ ready: 0, dead: 0 });
  });
});
