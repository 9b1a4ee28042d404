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
  UseGuards,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { TaskClient } from '../client/task.client.js';
import { TaskInspector } from '../control/task-inspector.js';
import { TaskQueueConfigError } from '../errors/index.js';
import type { ResultRecord } from '../protocol/result.js';
import { TASK_QUEUE_BEAT_STORE } from '../task-queue.constants.js';
import type { BeatStore } from '../transport/beat-store.interface.js';
import type { ParkedEntry, QueueCounts, WorkerInfo } from '../transport/transport.interface.js';
import { DashboardGuard, readCookie } from './dashboard.guard.js';
import { DASHBOARD_CSRF_COOKIE, DASHBOARD_OPTIONS, type TaskQueueDashboardOptions } from './dashboard.options.js';
import { dashboardPage } from './dashboard.page.js';

/** What the dashboard's page polls. @publicApi */
export interface DashboardOverview {
  at: number;
  brokerLatencyMs: number;
  queues: Array<{ queue: string } & QueueCounts>;
  workers: WorkerInfo[];
  beat: { id: string; at: number } | null;
  readOnly: boolean;
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

  @Get('api/tasks/:id')
  async task(@Param('id') id: string): Promise<{ id: string; queue?: string; record: ResultRecord | null }> {
    const found = await badInput(() => this.inspector.findTask(id));
    return found ? { id, queue: found.queue, record: found.record } : { id, record: null };
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

  private writable(): void {
    if (this.options.readOnly) throw new ForbiddenException('The dashboard is read-only.');
  }
}

function clamp(limit: string | undefined): number {
  const n = Number(limit ?? 50);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 500) : 50;
}
