import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Task, TaskContext } from 'nestjs-taskqueue';

export interface ReportSummary {
  rows: number;
  steps: number;
  sum: number;
  mean: number;
  min: number;
  max: number;
}

/** Rows handled per step; progress is reported after each. */
const BATCH = 10;

@Injectable()
export class ReportsService {
  private readonly logger = new Logger(ReportsService.name);

  constructor(private readonly ctx: TaskContext) {}

  /**
   * Builds a report over `rows` generated rows, a batch at a time, reporting
   * `{ done, total }` after each batch (state PROGRESS, readable through
   * GET /tasks/:id). At the soft time limit (1 min) `ctx.signal` aborts and the
   * task stops between batches; at the hard limit (2 min) the worker fails it.
   */
  @Task({ name: 'reports.build', timeLimit: '2m', softTimeLimit: '1m' })
  async build(rows: number): Promise<ReportSummary> {
    let sum = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let steps = 0;
    await this.ctx.progress({ done: 0, total: rows });
    for (let done = 0; done < rows;) {
      // Stands in for a query or an API call per batch; rejects when ctx.signal aborts.
      await sleep(100, undefined, { signal: this.ctx.signal });
      const end = Math.min(rows, done + BATCH);
      for (let i = done; i < end; i++) {
        const value = (i * 7919) % 1000;
        sum += value;
        min = Math.min(min, value);
        max = Math.max(max, value);
      }
      done = end;
      steps++;
      await this.ctx.progress({ done, total: rows });
    }
    this.logger.log(`Report ${this.ctx.id}: ${rows} rows in ${steps} steps`);
    return { rows, steps, sum, mean: rows ? sum / rows : 0, min: rows ? min : 0, max: rows ? max : 0 };
  }

  /** One item of a fan-out: stands in for a per-item lookup (a price, a score). */
  @Task({ name: 'reports.scoreItem', retry: { max: 2, delay: '100ms' } })
  async scoreItem(item: string): Promise<{ item: string; score: number }> {
    await sleep(20, undefined, { signal: this.ctx.signal });
    let score = 0;
    for (const ch of item) score = (score * 31 + ch.charCodeAt(0)) % 1000;
    return { item, score };
  }

  /** The chord's callback: runs once, with every item's result in order. */
  @Task('reports.aggregate')
  aggregate(scores: Array<{ item: string; score: number }>): { items: number; total: number; best: string | null } {
    const best = scores.reduce<{ item: string; score: number } | null>(
      (a, b) => (a === null || b.score > a.score ? b : a),
      null,
    );
    return { items: scores.length, total: scores.reduce((t, s) => t + s.score, 0), best: best?.item ?? null };
  }
}
