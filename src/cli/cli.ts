import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command, Option } from 'commander';
import { TaskClient } from '../client/task.client.js';
import { TaskInspector } from '../control/task-inspector.js';
import { TaskControl } from '../control/task-control.js';
import { TASK_QUEUE_BEAT_STORE } from '../task-queue.constants.js';
import { TaskQueueModule } from '../task-queue.module.js';
import type { BeatStore } from '../transport/beat-store.interface.js';
import type { TaskEvent } from '../interfaces/task-event.interface.js';
import { EVENT_STATE } from '../events/event-states.js';

/** What the CLI prints to; tests pass their own. */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
}

interface GlobalOptions {
  broker?: string;
  prefix: string;
  shards?: string;
  json?: boolean;
}

/** `--shards events=8,reports=4` as the module's `queues` option. */
function shardsOption(spec: string | undefined): Record<string, { shards: number }> | undefined {
  if (!spec) return undefined;
  const out: Record<string, { shards: number }> = {};
  for (const part of spec.split(',')) {
    const m = /^\s*([A-Za-z0-9._:-]+)=(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`--shards takes queue=count pairs separated by commas, not "${part}".`);
    out[m[1]] = { shards: Number(m[2]) };
  }
  return out;
}

const age = (at: number) => `${Math.max(0, Math.round((Date.now() - at) / 100) / 10)}s ago`;

function table(rows: Array<Record<string, unknown>>): string[] {
  if (rows.length === 0) return ['(none)'];
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i]))
      .join('  ')
      .trimEnd();
  return [
    line(cols),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => String(r[c] ?? '')))),
  ];
}

/** One event as a line: time, type, task[id] and the fields that say what happened. */
function eventLine(e: TaskEvent): string {
  const { cursor: _c, type, at, id, task, ...rest } = e;
  const who = task || id ? `${task ?? '?'}[${id ?? '?'}]` : '';
  const fields = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [new Date(at).toISOString().slice(11, 23), type.padEnd(16), who, ...fields].filter(Boolean).join('  ');
}

/**
 * The operator's command line: `taskqueue status | queues | workers | dead |
 * rejected | ping | active | result | revoke | events | replay | purge`, against the broker of a
 * deployment (it needs no application code).
 */
export function buildCli(io: CliIO): Command {
  const program = new Command('taskqueue')
    .description('Inspect and control nestjs-taskqueue workers and queues.')
    .addOption(new Option('-b, --broker <url>', 'broker URL').env('TASKQUEUE_BROKER_URL'))
    .addOption(
      new Option('-p, --prefix <prefix>', 'key prefix of the deployment').env('TASKQUEUE_PREFIX').default('taskqueue'),
    )
    .addOption(
      new Option('--shards <queue=n,...>', 'queues spread over shards, as the apps configure them').env(
        'TASKQUEUE_SHARDS',
      ),
    )
    .option('--json', 'print JSON')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride();

  const run =
    (
      fn: (ctx: {
        inspector: TaskInspector;
        client: TaskClient;
        app: INestApplicationContext;
        g: GlobalOptions;
      }) => Promise<unknown>,
    ) =>
    async () => {
      const g = program.opts<GlobalOptions>();
      const queues = shardsOption(g.shards);
      @Module({ imports: [TaskQueueModule.forRoot({ brokerUrl: g.broker, prefix: g.prefix, queues })] })
      class CliModule {}
      const app = await NestFactory.createApplicationContext(CliModule, { logger: ['error'] });
      try {
        const result = await fn({ inspector: app.get(TaskInspector), client: app.get(TaskClient), app, g });
        if (result !== undefined) {
          if (g.json) io.out(JSON.stringify(result, null, 2));
          else if (Array.isArray(result)) table(result as Array<Record<string, unknown>>).forEach((l) => io.out(l));
          else io.out(typeof result === 'string' ? result : JSON.stringify(result, null, 2));
        }
      } finally {
        await app.close();
      }
    };

  program
    .command('status')
    .description('broker latency, live workers, beat leader')
    .action(
      run(async ({ inspector, app }) => {
        const [latency, workers, beat] = await Promise.all([
          inspector.brokerLatency(),
          inspector.workers(),
          app.get<BeatStore>(TASK_QUEUE_BEAT_STORE).leaderHeartbeat(),
        ]);
        return {
          broker: { latencyMs: Math.round(latency * 100) / 100 },
          workers: workers.map((w) => ({
            id: w.id,
            queues: w.queues,
            running: `${w.running}/${w.concurrency}`,
            succeeded: w.succeeded,
            failed: w.failed,
            heartbeat: age(w.at),
          })),
          beat: beat ? { id: beat.id, heartbeat: age(beat.at) } : null,
        };
      }),
    );

  program
    .command('queues')
    .argument('[names...]', 'queues to show (default: every queue in the broker)')
    .description('messages ready, delayed and reserved, dead letters and rejected messages per queue')
    .action((names: string[]) =>
      run(async ({ inspector }) => {
        const queues = names.length ? names : await inspector.queues();
        return Promise.all(queues.map(async (queue) => ({ queue, ...(await inspector.counts(queue)) })));
      })(),
    );

  program
    .command('workers')
    .description('live workers and their counters')
    .action(
      run(async ({ inspector }) =>
        (await inspector.workers()).map((w) => ({
          id: w.id,
          queues: w.queues.join(','),
          running: w.running,
          concurrency: w.concurrency,
          succeeded: w.succeeded,
          failed: w.failed,
          retried: w.retried,
          heartbeat: age(w.at),
        })),
      ),
    );

  for (const kind of ['dead', 'rejected'] as const) {
    program
      .command(kind)
      .argument('<queue>')
      .option('-n, --limit <n>', 'how many, newest first', '20')
      .description(
        kind === 'dead'
          ? 'tasks that failed for good, with their last error'
          : 'messages a worker could not use, with the reason',
      )
      .action((queue: string, o: { limit: string }) =>
        run(async ({ inspector }) => {
          const rows =
            kind === 'dead'
              ? await inspector.deadLetters(queue, 0, Number(o.limit))
              : await inspector.rejected(queue, 0, Number(o.limit));
          return rows.map((e) => ({
            id: e.id ?? '',
            at: new Date(e.at).toISOString(),
            reason: e.error ? `${e.error.type}: ${e.error.message}` : e.reason,
          }));
        })(),
      );
  }

  program
    .command('ping')
    .option('-t, --timeout <ms>', 'how long to wait for answers', '1000')
    .description('ask every worker to answer')
    .action((o: { timeout: string }) =>
      run(async ({ inspector }) => (await inspector.ping(Number(o.timeout))).map((worker) => ({ worker, ok: true })))(),
    );

  program
    .command('active')
    .option('-t, --timeout <ms>', 'how long to wait for answers', '1000')
    .description('the tasks each worker runs now')
    .action((o: { timeout: string }) =>
      run(async ({ inspector }) =>
        (await inspector.active(Number(o.timeout))).flatMap((w) =>
          w.tasks.map((t) => ({ worker: w.worker, id: t.id, task: t.task, queue: t.queue, running: age(t.startedAt) })),
        ),
      )(),
    );

  program
    .command('result')
    .argument('<id>')
    .option('-q, --queue <queue>', "the task's queue (default: search every queue in the broker)")
    .description("a task's state and result or error")
    .action((id: string, o: { queue?: string }) =>
      run(async ({ client, inspector }) => {
        const found = o.queue
          ? { queue: o.queue, record: await client.result(id, o.queue).record() }
          : await inspector.findTask(id);
        return found?.record ? { queue: found.queue, ...found.record } : { id, state: 'PENDING' };
      })(),
    );

  program
    .command('revoke')
    .argument('<ids...>')
    .option('-q, --queue <queue>', "the tasks' queue (default: every queue in the broker)")
    .option('--terminate', 'also abort the tasks if they are running')
    .description('revoke tasks: they will not start; with --terminate, running ones are aborted')
    .action((ids: string[], o: { queue?: string; terminate?: boolean }) =>
      run(async ({ client, inspector }) => {
        for (const id of ids) {
          const queue = o.queue ?? (await inspector.findTask(id))?.queue;
          await client.result(id, queue).revoke({ terminate: o.terminate });
        }
        return `revoked ${ids.length} task(s)${o.terminate ? ' (terminate)' : ''}`;
      })(),
    );

  const controlOpts = (c: Command) =>
    c
      .option('-d, --destination <ids>', 'only these workers (comma-separated ids)')
      .option('-t, --timeout <ms>', 'how long to wait for replies', '1000');
  const targets = (o: { destination?: string; timeout: string }) => ({
    destination: o.destination?.split(',').map((d) => d.trim()),
    timeout: Number(o.timeout),
  });
  /** One row per worker; fails (exit 1) when no worker answered or one could not do it. */
  const replies = (list: Array<{ worker: string; ok: boolean; data?: unknown; error?: string }>) => {
    if (list.length === 0) throw new Error('No worker answered.');
    const failed = list.filter((r) => !r.ok);
    if (failed.length) throw new Error(failed.map((r) => `${r.worker}: ${r.error}`).join('\n'));
    return list.map((r) => ({ worker: r.worker, reply: JSON.stringify(r.data) }));
  };

  const inspect = program
    .command('inspect')
    .description(
      "ask the workers (Celery's inspect): active, reserved, registered, stats, conf, ping; scheduled reads the broker",
    );
  for (const verb of ['active', 'reserved', 'registered', 'stats', 'conf', 'ping'] as const) {
    controlOpts(inspect.command(verb)).action((o: { destination?: string; timeout: string }) =>
      run(async ({ inspector }) => {
        const t = targets(o);
        if (verb === 'ping') return (await inspector.ping(t)).map((worker) => ({ worker, ok: true }));
        const list = (await inspector[verb](t)) as Array<{ worker: string } & Record<string, unknown>>;
        if (list.length === 0) throw new Error('No worker answered.');
        return o.destination || verb !== 'active'
          ? list.map(({ worker, ...rest }) => ({ worker, reply: JSON.stringify(Object.values(rest)[0]) }))
          : list.flatMap((w) =>
              (w.tasks as Array<{ id: string; task?: string; queue: string; startedAt: number }>).map((x) => ({
                worker: w.worker,
                id: x.id,
                task: x.task,
                queue: x.queue,
                running: age(x.startedAt),
              })),
            );
      })(),
    );
  }
  inspect
    .command('scheduled')
    .argument('[queues...]', 'queues to look in (default: every queue in the broker)')
    .option('-n, --limit <n>', 'how many per queue, soonest first', '20')
    .action((names: string[], o: { limit: string }) =>
      run(async ({ inspector }) => {
        const queues = names.length ? names : await inspector.queues();
        const rows = await Promise.all(queues.map((q) => inspector.scheduled(q, 0, Number(o.limit))));
        return rows.flat().map((r) => ({ ...r, dueAt: new Date(r.dueAt).toISOString() }));
      })(),
    );

  const control = program.command('control').description("change running workers (Celery's control)");
  controlOpts(control.command('rate_limit').argument('<task>').argument('<rate>', "'10/s', '100/m', or 'none'")).action(
    (task: string, rate: string, o: { destination?: string; timeout: string }) =>
      run(async ({ app }) =>
        replies(await app.get(TaskControl).rateLimit(task, rate === 'none' ? null : rate, targets(o))),
      )(),
  );
  controlOpts(
    control
      .command('time_limit')
      .argument('<task>')
      .option('--soft <duration>', "soft limit ('30s', ms, or 'none')")
      .option('--hard <duration>', "hard limit ('1m', ms, or 'none')"),
  ).action((task: string, o: { soft?: string; hard?: string; destination?: string; timeout: string }) =>
    run(async ({ app }) => {
      const limit = (v?: string) =>
        v === undefined ? undefined : v === 'none' ? null : /^\d+$/.test(v) ? Number(v) : v;
      return replies(
        await app.get(TaskControl).timeLimit(task, { soft: limit(o.soft), hard: limit(o.hard) }, targets(o)),
      );
    })(),
  );
  for (const verb of ['add_consumer', 'cancel_consumer'] as const) {
    controlOpts(control.command(verb).argument('<queue>')).action(
      (queue: string, o: { destination?: string; timeout: string }) =>
        run(async ({ app }) => {
          const c = app.get(TaskControl);
          return replies(
            await (verb === 'add_consumer' ? c.addConsumer(queue, targets(o)) : c.cancelConsumer(queue, targets(o))),
          );
        })(),
    );
  }
  for (const verb of ['pool_grow', 'pool_shrink'] as const) {
    controlOpts(control.command(verb).argument('[n]', 'by how many', '1')).action(
      (n: string, o: { destination?: string; timeout: string }) =>
        run(async ({ app }) => {
          const c = app.get(TaskControl);
          return replies(
            await (verb === 'pool_grow' ? c.poolGrow(Number(n), targets(o)) : c.poolShrink(Number(n), targets(o))),
          );
        })(),
    );
  }
  controlOpts(control.command('shutdown')).action((o: { destination?: string; timeout: string }) =>
    run(async ({ app }) => replies(await app.get(TaskControl).shutdown(targets(o))))(),
  );
  controlOpts(
    control
      .command('revoke')
      .argument('[ids...]')
      .option('--task <pattern>', "every task whose name matches ('report.*')")
      .option('--terminate', 'also abort them if running'),
  ).action((ids: string[], o: { task?: string; terminate?: boolean; destination?: string; timeout: string }) =>
    run(async ({ app }) => {
      if (!ids.length && !o.task) throw new Error('Give task ids or --task <pattern>.');
      const target = o.task ? { task: o.task } : ids;
      return replies(await app.get(TaskControl).revoke(target, { terminate: o.terminate, ...targets(o) }));
    })(),
  );

  program
    .command('events')
    .description('task and worker events as they happen (the apps need the events option on)')
    .option('--task <names>', 'only these tasks (comma-separated)')
    .option('-q, --queue <names>', 'only these queues (comma-separated)')
    .option(
      '--state <states>',
      'only events of these states (comma-separated: SENT, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED, REJECTED)',
    )
    .option(
      '--from <cursor>',
      "where to start: '$' for new events only, '0' for the oldest kept, or an event's cursor",
      '$',
    )
    .option('-n, --limit <n>', 'stop after this many events (default: follow until interrupted)')
    .option('--no-follow', 'print the events kept after --from and stop')
    .action((o: { task?: string; queue?: string; state?: string; from: string; limit?: string; follow: boolean }) =>
      run(async ({ inspector, g }) => {
        const list = (v?: string) => (v ? new Set(v.split(',').map((x) => x.trim())) : undefined);
        const [tasks, queues, states] = [list(o.task), list(o.queue), list(o.state?.toUpperCase())];
        const limit = o.limit === undefined ? Infinity : Number(o.limit);
        if (!(limit > 0)) throw new Error(`--limit must be a positive number, not "${o.limit}".`);
        const keep = (e: TaskEvent) =>
          (!tasks || (e.task !== undefined && tasks.has(e.task))) &&
          (!queues || (e.queue !== undefined && queues.has(e.queue))) &&
          (!states || states.has(EVENT_STATE[e.type]));
        let stop = false;
        const onSigint = () => (stop = true);
        process.once('SIGINT', onSigint);
        try {
          let cursor = o.from;
          let shown = 0;
          while (!stop && shown < limit) {
            const page = await inspector.events({ from: cursor, count: 100, block: o.follow ? 1000 : undefined });
            cursor = page.cursor;
            for (const e of page.events) {
              if (!keep(e) || shown >= limit) continue;
              io.out(g.json ? JSON.stringify(e) : eventLine(e));
              shown++;
            }
            if (!o.follow && page.events.length === 0) break;
          }
        } finally {
          process.off('SIGINT', onSigint);
        }
        return undefined;
      })(),
    );

  program
    .command('replay')
    .argument('<queue>')
    .argument('[ids...]', 'ids of the dead letters (or rejected messages) to send back')
    .option('--all', 'every one of them')
    .option('--rejected', 'replay rejected messages instead of dead letters')
    .option('--delete', 'delete them instead of replaying them')
    .description('send dead letters back to their queue as fresh deliveries (retries start again at 0), or delete them')
    .action((queue: string, ids: string[], o: { all?: boolean; rejected?: boolean; delete?: boolean }) =>
      run(async ({ inspector }) => {
        if (o.all && ids.length) throw new Error('Give ids or --all, not both.');
        if (!o.all && !ids.length) throw new Error('Give the ids to replay, or --all.');
        const which = o.all ? 'all' : ids;
        const n = o.rejected
          ? await (o.delete ? inspector.deleteRejected(queue, which) : inspector.replayRejected(queue, which))
          : await (o.delete ? inspector.deleteDead(queue, which) : inspector.replayDead(queue, which));
        const verb = o.delete ? 'deleted' : 'replayed';
        return program.opts<GlobalOptions>().json
          ? { queue, [verb]: n }
          : `${verb} ${n} ${o.rejected ? 'rejected message' : 'dead letter'}${n === 1 ? '' : 's'} of ${queue}`;
      })(),
    );

  program
    .command('purge')
    .argument('<queue>')
    .option('--yes', 'really delete every message, result and parked entry of the queue')
    .description('empty a queue')
    .action((queue: string, o: { yes?: boolean }) =>
      run(async ({ inspector }) => {
        if (!o.yes) throw new Error(`Refusing to purge "${queue}" without --yes.`);
        await inspector.purge(queue);
        return `purged ${queue}`;
      })(),
    );

  return program;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(
  argv: string[],
  io: CliIO = { out: (l) => console.log(l), err: (l) => console.error(l) },
): Promise<number> {
  const program = buildCli(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code?.startsWith('commander.')) return e.exitCode ?? 1;
    io.err(`error: ${e.message ?? String(err)}`);
    return 1;
  }
}
