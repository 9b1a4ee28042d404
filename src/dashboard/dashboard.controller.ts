import {
  BadRequestException,
  Body,
  Controller,
  ForbiddenException,
  Get,
  Header,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
  Sse,
  UseGuards,
  type MessageEvent,
} from '@nestjs/common';
import { map, type Observable } from 'rxjs';
import { PeriodicSchedules } from '../beat/periodic-schedules.service.js';
import type { TaskEvent } from '../interfaces/index.js';
import { randomBytes } from 'node:crypto';
import { TaskClient } from '../client/task.client.js';
import { TaskControl } from '../control/task-control.js';
import { TaskInspector, type WorkerStatsReply } from '../control/task-inspector.js';
import { TaskQueueConfigError } from '../errors/index.js';
import type { ResultRecord } from '../protocol/result.js';
import { TASK_QUEUE_BEAT_STORE } from '../task-queue.constants.js';
import type { BeatStore } from '../transport/beat-store.interface.js';
import type { ParkedEntry, QueueCounts, WorkerInfo } from '../transport/transport.interface.js';
import { DashboardGuard, readCookie } from './dashboard.guard.js';
import { DASHBOARD_CSRF_COOKIE, DASHBOARD_OPTIONS, type TaskQueueDashboardOptions } from './dashboard.options.js';
import { dashboardPage } from './dashboard.page.js';
import { DashboardEvents, type DashboardTaskSummary } from './dashboard.events.js';

/** A node of a task's workflow tree. @publicApi */
export interface DashboardTaskNode {
  id: string;
  task?: string;
  queue?: string;
  state: string;
  children: DashboardTaskNode[];
}

/** A task's detail. @publicApi */
export interface DashboardTaskDetail {
  id: string;
  queue?: string;
  record: ResultRecord | null;
  /** Its events, oldest first (empty without the `events` option). */
  events: TaskEvent[];
  /** Its ancestors, the root first (from the result records' parentId). */
  parents: Array<{ id: string; task?: string; queue?: string; state: string }>;
  /** What it published (workflow steps, links), as a tree. */
  children: DashboardTaskNode[];
}

const TREE_NODES = 100;

/** What the dashboard's page polls. @publicApi */
export interface DashboardOverview {
  at: number;
  brokerLatencyMs: number;
  queues: Array<{ queue: string } & QueueCounts>;
  workers: WorkerInfo[];
  beat: { id: string; at: number } | null;
  readOnly: boolean;
  /** Whether the module's `events` option is on (the task list, timelines, charts and live updates need it). */
  events: boolean;
}

/** Turns bad input (a name that cannot be a queue or task id) into a 400 that says why. */
async function badInput<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TaskQueueConfigError) throw new BadRequestException(err.message);
    throw err;
  }
}

/**
 * The operators' web dashboard: queues, workers, beat, dead letters and
 * rejected messages, task lookup, revoke (with terminate) and purge. Its page
 * is one self-contained HTML document that polls the JSON endpoints below.
 * @internal (mounted by TaskQueueDashboardModule)
 */
@Controller()
@UseGuards(DashboardGuard)
export class DashboardController {
  constructor(
    private readonly inspector: TaskInspector,
    private readonly client: TaskClient,
    @Inject(TASK_QUEUE_BEAT_STORE) private readonly beat: BeatStore,
    @Inject(DASHBOARD_OPTIONS) private readonly options: TaskQueueDashboardOptions,
    private readonly events: DashboardEvents,
    private readonly schedules: PeriodicSchedules,
    private readonly control: TaskControl,
  ) {}

  /**
   * The page. It carries the CSRF token (also set as an HttpOnly, SameSite=Strict
   * cookie: mutating requests must send it back in a header) and a strict
   * Content-Security-Policy: only its own inline script runs.
   */
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @Header('x-content-type-options', 'nosniff')
  @Header('x-frame-options', 'DENY')
  @Header('referrer-policy', 'no-referrer')
  page(
    @Req() request: { headers: Record<string, string | string[] | undefined>; originalUrl?: string; url?: string },
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
  ): string {
    const existing = readCookie(request, DASHBOARD_CSRF_COOKIE);
    const token =
      existing && /^[A-Za-z0-9_-]{32,64}$/.test(existing) ? existing : randomBytes(24).toString('base64url');
    const nonce = randomBytes(16).toString('base64');
    const path = (request.originalUrl ?? request.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
    response.setHeader('set-cookie', `${DASHBOARD_CSRF_COOKIE}=${token}; Path=${path}; HttpOnly; SameSite=Strict`);
    response.setHeader(
      'content-security-policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    return dashboardPage({ csrfToken: token, nonce });
  }

  @Get('api/overview')
  async overview(): Promise<DashboardOverview> {
    const [brokerLatencyMs, names, workers, beat] = await Promise.all([
      this.inspector.brokerLatency(),
      this.inspector.queues(),
      this.inspector.workers(),
      this.beat.leaderHeartbeat(),
    ]);
    const known = new Set([...names, ...workers.flatMap((w) => w.queues)]);
    const queues = await Promise.all(
      [...known].sort().map(async (queue) => ({ queue, ...(await this.inspector.counts(queue)) })),
    );
    return {
      at: Date.now(),
      brokerLatencyMs,
      queues,
      workers,
      beat: beat && { id: beat.id, at: beat.at },
      readOnly: this.options.readOnly === true,
      events: this.events.enabled,
    };
  }

  @Get('api/queues/:queue/dead')
  dead(@Param('queue') queue: string, @Query('limit') limit?: string): Promise<ParkedEntry[]> {
    return badInput(() => this.inspector.deadLetters(queue, 0, clamp(limit)));
  }

  @Get('api/queues/:queue/rejected')
  rejected(@Param('queue') queue: string, @Query('limit') limit?: string): Promise<ParkedEntry[]> {
    return badInput(() => this.inspector.rejected(queue, 0, clamp(limit)));
  }

  @Get('api/active')
  active(): Promise<
    Array<{ worker: string; tasks: Array<{ id: string; task?: string; queue: string; startedAt: number }> }>
  > {
    return this.inspector.active(500);
  }

  /** The task list, from the event stream (needs the `events` option). */
  @Get('api/tasks')
  async tasks(
    @Query() q: Record<string, string | undefined>,
  ): Promise<{ events: boolean; tasks: DashboardTaskSummary[] }> {
    if (!this.events.enabled) return { events: false, tasks: [] };
    const time = (v: string | undefined) => (v && Number.isFinite(Number(v)) ? Number(v) : undefined);
    const tasks = await this.events.tasks({
      state: q.state || undefined,
      task: q.task || undefined,
      queue: q.queue || undefined,
      worker: q.worker || undefined,
      from: time(q.from),
      to: time(q.to),
      search: q.search?.trim() || undefined,
      limit: clamp(q.limit, 200),
    });
    return { events: true, tasks };
  }

  @Get('api/tasks/:id')
  async task(@Param('id') id: string): Promise<DashboardTaskDetail> {
    const found = await badInput(() => this.inspector.findTask(id));
    const events = this.events.enabled ? await this.events.timeline(id) : [];
    const parents: DashboardTaskDetail['parents'] = [];
    const seen = new Set([id]);
    for (let parentId = found?.record.parentId; parentId && !seen.has(parentId) && parents.length < 10;) {
      seen.add(parentId);
      const p = await this.inspector.findTask(parentId);
      parents.unshift({ id: parentId, task: p?.record.task, queue: p?.queue, state: p?.record.state ?? 'PENDING' });
      parentId = p?.record.parentId;
    }
    return {
      id,
      queue: found?.queue,
      record: found?.record ?? null,
      events,
      parents,
      children: await this.tree(found?.record ?? null),
    };
  }

  /** The workflow below a record, breadth first, at most TREE_NODES nodes. */
  private async tree(record: ResultRecord | null): Promise<DashboardTaskNode[]> {
    const roots: DashboardTaskNode[] = [];
    let level: Array<{ into: DashboardTaskNode[]; record: ResultRecord | null }> = [{ into: roots, record }];
    let count = 0;
    while (level.length && count < TREE_NODES) {
      const next: typeof level = [];
      for (const { into, record: rec } of level)
        for (const c of rec?.children ?? []) {
          if (count++ >= TREE_NODES) break;
          const child = await (await this.client.result(c.id, c.queue)).record();
          const node: DashboardTaskNode = {
            id: c.id,
            task: c.task,
            queue: c.queue,
            state: child?.state ?? 'PENDING',
            children: [],
          };
          into.push(node);
          next.push({ into: node.children, record: child });
        }
      level = next;
    }
    return roots;
  }

  @Post('api/tasks/:id/revoke')
  async revoke(
    @Param('id') id: string,
    @Body() body: { terminate?: boolean } | undefined,
  ): Promise<{ revoked: string; terminate: boolean }> {
    this.writable();
    const terminate = body?.terminate === true;
    const found = await badInput(() => this.inspector.findTask(id));
    await (await badInput(() => this.client.result(id, found?.queue))).revoke({ terminate });
    return { revoked: id, terminate };
  }

  @Post('api/queues/:queue/purge')
  async purge(@Param('queue') queue: string): Promise<{ purged: string }> {
    this.writable();
    await badInput(() => this.inspector.purge(queue));
    return { purged: queue };
  }

  @Post('api/queues/:queue/:kind/:op')
  async parked(
    @Param('queue') queue: string,
    @Param('kind') kind: string,
    @Param('op') op: string,
    @Body() body: { ids?: unknown; all?: boolean } | undefined,
  ): Promise<{ queue: string; kind: string; op: string; count: number }> {
    this.writable();
    if ((kind !== 'dead' && kind !== 'rejected') || (op !== 'replay' && op !== 'delete'))
      throw new BadRequestException('Expected /queues/<queue>/(dead|rejected)/(replay|delete).');
    const ids =
      body?.all === true
        ? ('all' as const)
        : Array.isArray(body?.ids) && body.ids.every((i) => typeof i === 'string')
          ? (body.ids as string[])
          : undefined;
    if (!ids) throw new BadRequestException('Expected a body of { ids: [...] } or { all: true }.');
    const count = await badInput(() =>
      kind === 'dead'
        ? op === 'replay'
          ? this.inspector.replayDead(queue, ids)
          : this.inspector.deleteDead(queue, ids)
        : op === 'replay'
          ? this.inspector.replayRejected(queue, ids)
          : this.inspector.deleteRejected(queue, ids),
    );
    return { queue, kind, op, count };
  }

  /** Finished tasks per minute and queue (needs the `events` option). */
  @Get('api/throughput')
  throughput(@Query('minutes') minutes?: string): ReturnType<DashboardEvents['throughput']> {
    return this.events.throughput(clamp(minutes, 30, 240));
  }

  @Get('api/schedules')
  async scheduleList(): Promise<
    Array<{
      name: string;
      task: string;
      queue: string;
      every?: number;
      cron?: string;
      timezone?: string;
      paused: boolean;
      nextRunAt: number | null;
      lastRunAt: number | null;
      lastTaskId: string | null;
    }>
  > {
    return (await this.schedules.list()).map((s) => ({
      name: s.name,
      task: s.task,
      queue: s.queue,
      every: s.every,
      cron: s.cron,
      timezone: s.timezone,
      paused: s.paused,
      nextRunAt: s.nextRunAt?.getTime() ?? null,
      lastRunAt: s.lastRunAt?.getTime() ?? null,
      lastTaskId: s.lastTaskId,
    }));
  }

  @Post('api/schedules/:name/:op')
  async schedule(@Param('name') name: string, @Param('op') op: string): Promise<{ name: string; paused: boolean }> {
    this.writable();
    if (op !== 'pause' && op !== 'resume') throw new BadRequestException('Expected pause or resume.');
    const ok = op === 'pause' ? await this.schedules.pause(name) : await this.schedules.resume(name);
    if (!ok) throw new BadRequestException(`No schedule named ${JSON.stringify(name)}.`);
    return { name, paused: op === 'pause' };
  }

  /**
   * Live events for the page (server-sent events). However many pages are
   * open, the process reads the stream once (DashboardEvents).
   */
  @Sse('api/stream')
  stream(): Observable<MessageEvent> {
    return this.events.live().pipe(map((e) => ({ data: e })));
  }

  /** Revokes every task whose name matches a pattern (`*` a wildcard) on every live worker, with or without terminate. */
  @Post('api/revoke-by-name')
  async revokeByName(
    @Body() body: { task?: unknown; terminate?: unknown } | undefined,
  ): Promise<{ task: string; terminate: boolean; revoked: string[] }> {
    this.writable();
    if (typeof body?.task !== 'string') throw new BadRequestException('Expected { task: pattern }.');
    const task = body.task;
    const terminate = body.terminate === true;
    const ids = (await this.inspector.workers()).map((w) => w.id);
    if (!ids.length) throw new BadRequestException('No live worker to tell.');
    const replies = await badInput(() => this.control.revoke({ task }, { terminate, destination: ids, timeout: 2000 }));
    return { task, terminate, revoked: replies.flatMap((r) => r.data?.revoked ?? []) };
  }

  /** The task names the live workers run, each with the workers that have it. */
  @Get('api/registered')
  async registered(): Promise<Array<{ task: string; workers: string[] }>> {
    const ids = (await this.inspector.workers()).map((w) => w.id);
    if (!ids.length) return [];
    const byTask = new Map<string, string[]>();
    for (const r of await this.inspector.registered({ destination: ids, timeout: 1000 }))
      for (const t of r.tasks) byTask.set(t, [...(byTask.get(t) ?? []), r.worker]);
    return [...byTask].sort(([a], [b]) => a.localeCompare(b)).map(([task, workers]) => ({ task, workers }));
  }

  /** Changes a task's rate limit (`{ rate: '10/s' }`, null removes it) or time limits (`{ soft, hard }`) on every live worker. */
  @Post('api/registered/:task/:op')
  async limit(
    @Param('task') task: string,
    @Param('op') op: string,
    @Body() body: { rate?: unknown; soft?: unknown; hard?: unknown } | undefined,
  ): Promise<{ task: string; op: string; replies: unknown[] }> {
    this.writable();
    const ids = (await this.inspector.workers()).map((w) => w.id);
    if (!ids.length) throw new BadRequestException('No live worker to tell.');
    const to = { destination: ids, timeout: 2000 };
    const value = (v: unknown) => (v === undefined || v === null || v === '' ? null : (v as string | number));
    const replies = await badInput<Array<{ worker: string; ok: boolean; error?: string }>>(() => {
      if (op === 'rate-limit') return this.control.rateLimit(task, value(body?.rate), to);
      if (op === 'time-limit')
        return this.control.timeLimit(task, { soft: value(body?.soft), hard: value(body?.hard) }, to);
      throw new BadRequestException('Expected rate-limit or time-limit.');
    });
    const failed = replies.find((r) => !r.ok);
    if (failed) throw new BadRequestException(`Worker ${failed.worker}: ${failed.error ?? 'refused'}`);
    return { task, op, replies };
  }

  /** Each live worker's own report (memory, uptime, prefetch), asked of those the heartbeats list. */
  @Get('api/workers/stats')
  async workerStats(): Promise<Array<{ worker: string; stats: WorkerStatsReply }>> {
    const ids = (await this.inspector.workers()).map((w) => w.id);
    return ids.length ? this.inspector.stats({ destination: ids, timeout: 1000 }) : [];
  }

  /** Remote control of one worker: pool grow / shrink, add / cancel a consumer, shutdown. */
  @Post('api/workers/:id/:op')
  async workerControl(
    @Param('id') id: string,
    @Param('op') op: string,
    @Body() body: { n?: unknown; queue?: unknown } | undefined,
  ): Promise<{ worker: string; op: string; replies: unknown[] }> {
    this.writable();
    const to = { destination: [id], timeout: 2000 };
    const n = body?.n === undefined ? 1 : Number(body.n);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new BadRequestException('Expected n, a positive integer.');
    const queue = () => {
      if (typeof body?.queue !== 'string') throw new BadRequestException('Expected { queue }.');
      return body.queue;
    };
    const replies = await badInput(async () => {
      switch (op) {
        case 'grow':
          return this.control.poolGrow(n, to);
        case 'shrink':
          return this.control.poolShrink(n, to);
        case 'add-consumer':
          return this.control.addConsumer(queue(), to);
        case 'cancel-consumer':
          return this.control.cancelConsumer(queue(), to);
        case 'shutdown':
          return this.control.shutdown(to);
        default:
          throw new BadRequestException('Expected grow, shrink, add-consumer, cancel-consumer or shutdown.');
      }
    });
    if (!replies.length) throw new BadRequestException(`Worker ${JSON.stringify(id)} did not answer.`);
    const failed = replies.find((r) => !r.ok);
    if (failed) throw new BadRequestException(`Worker ${failed.worker}: ${failed.error ?? 'refused'}`);
    return { worker: id, op, replies };
  }

  private writable(): void {
    if (this.options.readOnly) throw new ForbiddenException('The dashboard is read-only.');
  }
}

function clamp(limit: string | undefined, fallback = 50, max = 500): number {
  const n = Number(limit ?? fallback);
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : fallback;
}
