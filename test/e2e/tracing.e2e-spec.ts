import { Controller, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskClient, TaskQueueModule, chain, type AsyncResult } from '../../src/index.js';
import { buildE2eFixtures, killAll, spawnNode, type Child } from '../utils/processes.js';
import { REDIS_URL, cleanupPrefix, testPrefix, until } from '../utils/redis.js';

const WORKER = 'test/e2e/.build/test/e2e/fixtures/tracing-worker-main.js';

interface SpanLine {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

/** An HTTP handler that starts a SERVER span, as HTTP instrumentation would, and publishes a chain in it. */
@Controller('orders')
class OrdersController {
  constructor(private readonly tasks: TaskClient) {}

  @Post()
  create(): Promise<{ id: string; traceId: string }> {
    return trace.getTracer('test-http').startActiveSpan('POST /orders', { kind: SpanKind.SERVER }, async (span) => {
      try {
        const sq = (i?: number) => this.tasks.signature<number>('e2e.square', i === undefined ? [] : [i]);
        const r = await chain(sq(2), sq(), sq()).bind(this.tasks).delay();
        return { id: r.id, traceId: span.spanContext().traceId };
      } finally {
        span.end();
      }
    });
  }
}

describe('OpenTelemetry: one trace from an HTTP request through a chain run in a worker process', () => {
  const prefix = testPrefix('tracing');
  const spansFile = join(tmpdir(), `${prefix}.spans`);
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const children: Child[] = [];
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    provider.register();
    await buildE2eFixtures();
    children.push(await spawnNode(WORKER, { REDIS_URL, TQ_PREFIX: prefix, TQ_SPANS_FILE: spansFile }));
    const moduleRef = await Test.createTestingModule({
      imports: [TaskQueueModule.forRoot({ brokerUrl: REDIS_URL, prefix })],
      controllers: [OrdersController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  }, 180_000);

  afterAll(async () => {
    killAll(children);
    await Promise.all(children.map((c) => c.exited));
    await app?.close();
    await provider.shutdown();
    rmSync(spansFile, { force: true });
    await cleanupPrefix(prefix);
  });

  it('links HTTP → send → process → send → process → send → process, in one trace', async () => {
    const res = await fetch(`${base}/orders`, { method: 'POST' });
    const { id, traceId } = (await res.json()) as { id: string; traceId: string };
    expect(await app.get(TaskClient).result<number>(id).get({ timeout: 10_000 })).toBe(256);

    const workerSpans = (): SpanLine[] => {
      try {
        return readFileSync(spansFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as SpanLine);
      } catch {
        return [];
      }
    };
    await until(() => workerSpans().filter((s) => s.name === 'process default').length === 3, 10_000, 'three runs');
    const local: SpanLine[] = exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      kind: s.kind,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId,
      attributes: s.attributes,
    }));
    const spans = [...local, ...workerSpans()].filter((s) => s.traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const http = spans.find((s) => s.name === 'POST /orders')!;
    const runs = spans.filter((s) => s.name === 'process default');
    expect(runs).toHaveLength(3);
    // walk up from the last run: process ← send ← process ← send ← process ← send ← HTTP
    const last = runs.find((r) => r.attributes['messaging.message.id'] === id)!;
    const path: string[] = [];
    for (let s: SpanLine | undefined = last; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) {
      path.push(`${s.name}:${s.kind}`);
      if (s === http) break;
    }
    expect(path).toEqual([
      `process default:${SpanKind.CONSUMER}`,
      `send default:${SpanKind.PRODUCER}`,
      `process default:${SpanKind.CONSUMER}`,
      `send default:${SpanKind.PRODUCER}`,
      `process default:${SpanKind.CONSUMER}`,
      `send default:${SpanKind.PRODUCER}`,
      `POST /orders:${SpanKind.SERVER}`,
    ]);
    expect(last.attributes).toMatchObject({
      'messaging.system': 'nestjs-taskqueue',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'default',
      'messaging.message.id': id,
      'taskqueue.task': 'e2e.square',
      'taskqueue.state': 'SUCCESS',
    });
    const firstSend = spans.find((s) => s.name === 'send default' && s.parentSpanId === http.spanId)!;
    expect(firstSend.attributes).toMatchObject({
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'default',
    });
    await (app.get(TaskClient).result(id) as AsyncResult).forget();
  });
});
