import type { Metric, MetricValue, Registry } from 'prom-client';

/**
 * A counter and a histogram kept by this process per label set and exported
 * in prom-client's format when the registry is read. The per-task path is a
 * bound function per label set: no label hashing and no allocation per
 * observation (prom-client's own metrics hash the label object on every call,
 * which was most of the metrics' cost per task).
 * @internal
 */
abstract class LocalMetric<L extends string, S> {
  protected readonly series = new Map<string, { labels: Record<L, string>; state: S }>();
  readonly aggregator = 'sum' as const;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  protected abstract fresh(): S;

  protected stateFor(labels: Record<L, string>): S {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: { ...labels }, state: this.fresh() }));
    return s.state;
  }

  reset(): void {
    this.series.clear();
  }
}

/** @internal */
export class LocalCounter<L extends string> extends LocalMetric<L, { value: number }> {
  readonly type = 'counter' as const;

  protected fresh() {
    return { value: 0 };
  }

  /** Increments the series of `labels` (look the function up once, call it per task). */
  bind(labels: Record<L, string>): () => void {
    const s = this.stateFor(labels);
    return () => {
      s.value++;
    };
  }

  /** The value of one series (tests, and callers that want it). */
  value(labels: Record<L, string>): number {
    return this.stateFor(labels).value;
  }

  async get() {
    const values = [...this.series.values()].map((s) => ({ labels: s.labels, value: s.state.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** @internal */
export class LocalHistogram<L extends string> extends LocalMetric<L, { counts: number[]; sum: number; count: number }> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    registry: Registry,
    private readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames, registry);
  }

  protected fresh() {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  /** Observes into the series of `labels` (look the function up once, call it per task). */
  bind(labels: Record<L, string>): (value: number) => void {
    const s = this.stateFor(labels);
    const b = this.buckets;
    return (value) => {
      let i = 0;
      while (i < b.length && value > b[i]) i++;
      s.counts[i]++;
      s.sum += value;
      s.count++;
    };
  }

  async get() {
    const values: Array<MetricValue<string> & { metricName: string }> = [];
    for (const { labels, state } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += state.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { ...labels, le: '+Inf' },
        value: cumulative + state.counts[this.buckets.length],
      });
      values.push({ metricName: `${this.name}_sum`, labels, value: state.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: state.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
