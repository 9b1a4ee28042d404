import type { TestingModule } from '@nestjs/testing';
import { TaskClient, TaskInspector, TaskState, TaskWorker } from '../../src/index.js';
import { TASK_QUEUE_TRANSPORT } from '../../src/task-queue.constants.js';
import type { Transport } from '../../src/transport/index.js';
import { runCli } from '../../src/cli/cli.js';
import { MathService } from '../fixtures/math.service.js';
import { createTaskApp } from '../utils/app.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

describe('taskqueue CLI', () => {
  const prefix = testPrefix('cli');
  let app: TestingModule;
  let client: TaskClient;
  let worker: TaskWorker;

  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--broker', REDIS_URL, '--prefix', prefix, ...args], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  beforeAll(async () => {
    app = await createTaskApp({ brokerUrl: REDIS_URL, prefix }, [MathService]);
    client = app.get(TaskClient);
    worker = app.get(TaskWorker);
    await worker.start({ queues: ['default'], concurrency: 1 });
  });

  afterAll(async () => {
    await app.close();
    await cleanupPrefix(prefix);
  });

  it('status: broker latency and the live worker', async () => {
    const { code, out } = await cli('--json', 'status');
    expect(code).toBe(0);
    const status = JSON.parse(out);
    expect(status.broker.latencyMs).toEqual(expect.any(Number));
    expect(status.workers.map((w: { id: string }) => w.id)).toEqual([worker.id]);
  });

  it('queues, dead and rejected: what is waiting and what was parked', async () => {
    await client.send('math.add', [1], { queue: 'elsewhere' });
    const failed = await client.for(MathService).fail.delay('cli failure');
    await failed.get({ timeout: 5000 }).catch(() => undefined);
    const queues = await cli('--json', 'queues');
    expect(JSON.parse(queues.out)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ queue: 'elsewhere', ready: 1 }),
        expect.objectContaining({ queue: 'default', dead: 1 }),
      ]),
    );
    const dead = await cli('dead', 'default');
    expect(dead.out).toMatch(new RegExp(`${failed.id}.*RangeError: cli failure`));
    const table = await cli('queues', 'elsewhere');
    expect(table.out.split('\n')[0]).toMatch(/^queue\s+ready\s+delayed\s+reserved\s+dead\s+rejected$/);
  });

  it('ping, active, result and revoke --terminate', async () => {
    expect((await cli('ping', '--timeout', '300')).out).toContain(worker.id);
    const gate = 'cli-hold';
    const r = await client.for(MathService).hold.delay(gate);
    await until(() => MathService.started.has(gate), 5000, 'the task to start');
    expect((await cli('active', '--timeout', '300')).out).toContain(r.id);
    expect(JSON.parse((await cli('--json', 'result', r.id)).out)).toMatchObject({ queue: 'default', state: 'STARTED' });
    expect((await cli('revoke', r.id, '--terminate')).code).toBe(0);
    await expect(r.get({ timeout: 5000 })).rejects.toThrow(/revoked/);
  });

  it('replay: sends dead letters back (by id or --all), or deletes them', async () => {
    const q = 'replayed';
    const inspector = app.get(TaskInspector);
    const a = await client.for(MathService).add.applyAsync([1, 2], { queue: q });
    const b = await client.for(MathService).add.applyAsync([3, 4], { queue: q });
    // park them as dead letters, as a worker would after the last retry
    const transport = app.get<Transport>(TASK_QUEUE_TRANSPORT);
    const held = await transport.reserve({
      queue: q,
      max: 2,
      startCount: 2,
      leaseMs: 30_000,
      workerId: 'cli-test',
      maxRedeliveries: 3,
      resultTtlMs: 60_000,
    });
    for (const it of held.items)
      await transport.fail(
        { queue: q, id: it.id, record: { id: it.id, state: TaskState.FAILURE, at: Date.now() }, resultTtlMs: 60_000 },
        it.raw,
      );
    expect(await inspector.counts(q)).toMatchObject({ ready: 0, dead: 2 });
    expect((await cli('replay', q)).code).toBe(1);
    expect((await cli('replay', q, a.id, '--all')).code).toBe(1);
    expect((await cli('replay', q, a.id)).out).toBe(`replayed 1 dead letter of ${q}`);
    expect(await inspector.counts(q)).toMatchObject({ ready: 1, dead: 1 });
    expect(await a.state()).toBe('PENDING');
    expect(JSON.parse((await cli('--json', 'replay', q, '--all', '--delete')).out)).toEqual({ queue: q, deleted: 1 });
    expect(await inspector.counts(q)).toMatchObject({ ready: 1, dead: 0 });
    expect(await b.state()).toBe('FAILURE');
    await cli('purge', q, '--yes');
  });

  it('refuses to purge without --yes, and says what is wrong with bad input', async () => {
    const refused = await cli('purge', 'elsewhere');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/without --yes/);
    expect((await cli('purge', 'elsewhere', '--yes')).code).toBe(0);
    expect((await cli('--json', 'queues', 'elsewhere')).out).toMatch(/"ready": 0/);
    const bad = await cli('result', 'has space');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/"task id"/);
    expect((await cli('nonsense')).code).not.toBe(0);
  });
});
