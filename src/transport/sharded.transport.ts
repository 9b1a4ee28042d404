import { uniqueOfRaw, type ResultRecord } from '../protocol/index.js';
import type {
  ChordSpec,
  ParkedEntry,
  PublishItem,
  QueueCounts,
  ReserveRequest,
  ReserveResult,
  Skipped,
  TerminalUpdate,
  Transport,
} from './transport.interface.js';

/** Between a queue's name and its shard number: never in a queue name, so a shard never is another queue. */
const SEP = '@';

/** FNV-1a (32 bits): a stable, cheap spread of task ids over shards. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Where the shards of each logical queue are: shard 0 is the queue's own name
 * (so a queue can gain shards later, and a beat's claims keep landing in it),
 * shard i is `<queue>@<i>`; each is a queue of the broker of its own, with its
 * own hash slot on a Cluster.
 */
export class QueueShards {
  constructor(private readonly counts: Readonly<Record<string, number>>) {}

  count(queue: string): number {
    return this.counts[queue] ?? 1;
  }

  all(queue: string): string[] {
    const n = this.count(queue);
    return Array.from({ length: n }, (_, i) => (i === 0 ? queue : `${queue}${SEP}${i}`));
  }

  /** The shard a producer puts task `id` in. */
  of(queue: string, id: string): string {
    const n = this.count(queue);
    if (n <= 1) return queue;
    const i = hash(id) % n;
    return i === 0 ? queue : `${queue}${SEP}${i}`;
  }

  /** The logical queue of a shard. */
  logical(shard: string): string {
    const at = shard.indexOf(SEP);
    return at > 0 ? shard.slice(0, at) : shard;
  }
}

/**
 * One logical queue over several broker queues (`queues: { <name>: { shards } }`),
 * for a queue bigger than one Redis node: producers put a task in the shard its
 * id hashes to; a worker reserves from every shard in turn, starting one further
 * each time, so none is starved; priorities hold within a shard; counts, lists
 * and listQueues() show the logical queue. A reserved message is acknowledged in
 * the shard it came from (kept in memory by id while held: a chord's body, for
 * one, lands in the shard of its chord's id). Results are looked for in every
 * shard of the queue. Queues without shards pass straight through.
 */
export function withShards(inner: Transport, counts: Readonly<Record<string, number>>): Transport {
  const shards = new QueueShards(counts);
  if (!Object.values(counts).some((n) => n > 1)) return inner;
  const sharded = (queue: string) => shards.count(queue) > 1;
  /** Task id → the shard it was reserved from, while this process holds it. */
  const held = new Map<string, string>();
  const turn = new Map<string, number>();
  const where = (queue: string, id: string) => (sharded(queue) ? (held.get(id) ?? shards.of(queue, id)) : queue);
  const release = (queue: string, id: string) => {
    const shard = where(queue, id);
    held.delete(id);
    return shard;
  };
  const byShard = (queue: string, ids: string[], forget: boolean) => {
    const groups = new Map<string, string[]>();
    for (const id of ids) {
      const shard = forget ? release(queue, id) : where(queue, id);
      groups.set(shard, [...(groups.get(shard) ?? []), id]);
    }
    return groups;
  };

  const reserve = async (req: ReserveRequest): Promise<ReserveResult> => {
    if (!sharded(req.queue)) return inner.reserve(req);
    const all = shards.all(req.queue);
    const first = turn.get(req.queue) ?? 0;
    turn.set(req.queue, (first + 1) % all.length);
    const out: ReserveResult = { items: [], dropped: [], nextWakeAt: null };
    for (let k = 0; k < all.length && out.items.length < req.max; k++) {
      const shard = all[(first + k) % all.length];
      const got = out.items.length;
      const res = await inner.reserve({
        ...req,
        queue: shard,
        max: req.max - got,
        startCount: Math.max(0, req.startCount - got),
      });
      for (const item of res.items) held.set(item.id, shard);
      out.items.push(...res.items);
      out.dropped.push(...res.dropped);
      if (res.nextWakeAt !== null)
        out.nextWakeAt = out.nextWakeAt === null ? res.nextWakeAt : Math.min(out.nextWakeAt, res.nextWakeAt);
    }
    return out;
  };

  const findResult = async (queues: string[], id: string) => {
    const found = await inner.findResult(
      queues.flatMap((q) => shards.all(q)),
      id,
    );
    return found ? { ...found, queue: shards.logical(found.queue) } : null;
  };

  const mergeParked = async (
    list: (queue: string, start: number, count: number) => Promise<ParkedEntry[]>,
    queue: string,
    start: number,
    count: number,
  ) => {
    if (!sharded(queue)) return list(queue, start, count);
    const parts = await Promise.all(shards.all(queue).map((s) => list(s, 0, start + count)));
    return parts
      .flat()
      .sort((a, b) => b.at - a.at)
      .slice(start, start + count);
  };

  const overrides: Partial<Record<keyof Transport, unknown>> = {
    // a unique task goes to the shard its key hashes to, so one key is held in one place
    publish: (items: PublishItem[], ...rest: unknown[]) =>
      (inner.publish as (...a: unknown[]) => Promise<Skipped>)(
        items.map((it) => ({ ...it, queue: shards.of(it.queue, uniqueOfRaw(it.raw)?.key ?? it.id) })),
        ...rest,
      ),
    releaseUnique: (queue: string, key: string, id: string) => inner.releaseUnique(shards.of(queue, key), key, id),
    reserve,
    waitForWork: (queues: string[], untilMs: number, signal: AbortSignal) =>
      inner.waitForWork(
        queues.flatMap((q) => shards.all(q)),
        untilMs,
        signal,
      ),
    renew: async (queue: string, ids: string[], leaseMs: number) => {
      if (!sharded(queue)) return inner.renew(queue, ids, leaseMs);
      const lost = await Promise.all([...byShard(queue, ids, false)].map(([s, list]) => inner.renew(s, list, leaseMs)));
      return lost.flat();
    },
    setState: (queue: string, record: ResultRecord, ttl: number) =>
      inner.setState(where(queue, record.id), record, ttl),
    ack: async (update: TerminalUpdate | TerminalUpdate[], next?: ReserveRequest) => {
      const list = (Array.isArray(update) ? update : [update]).map((u) => ({ ...u, queue: release(u.queue, u.id) }));
      if (next && sharded(next.queue)) {
        if (list.length) await inner.ack(list);
        return reserve(next);
      }
      return inner.ack(Array.isArray(update) ? list : list[0], next);
    },
    retry: (update: TerminalUpdate & { record: ResultRecord }, raw: string, priority: number, dueAt: number) =>
      inner.retry({ ...update, queue: release(update.queue, update.id) }, raw, priority, dueAt),
    fail: (update: TerminalUpdate & { record: ResultRecord }, raw: string) =>
      inner.fail({ ...update, queue: release(update.queue, update.id) }, raw),
    reject: (queue: string, id: string, raw: string, reason: string) =>
      inner.reject(release(queue, id), id, raw, reason),
    release: async (queue: string, ids: string[]) => {
      if (!sharded(queue)) return inner.release(queue, ids);
      await Promise.all([...byShard(queue, ids, true)].map(([s, list]) => inner.release(s, list)));
    },
    revoke: async (queue: string, id: string, record: ResultRecord, ttl: number) => {
      if (!sharded(queue)) return inner.revoke(queue, id, record, ttl);
      // Where its record is, if it has one (a chord's body is not in the shard its id hashes to).
      const found = await inner.findResult(shards.all(queue), id);
      return inner.revoke(found?.queue ?? shards.of(queue, id), id, record, ttl);
    },
    chordCreate: (spec: ChordSpec, ...rest: unknown[]) =>
      (inner.chordCreate as (...a: unknown[]) => Promise<void>)(
        { ...spec, queue: shards.of(spec.queue, spec.id) },
        ...rest,
      ),
    chordJoin: (queue: string, id: string, index: number, resultJson: string) =>
      inner.chordJoin(shards.of(queue, id), id, index, resultJson),
    chordFail: (queue: string, id: string, record: ResultRecord, ttl: number) =>
      inner.chordFail(shards.of(queue, id), id, record, ttl),
    getResult: async (queue: string, id: string) =>
      sharded(queue) ? ((await findResult([queue], id))?.record ?? null) : inner.getResult(queue, id),
    findResult,
    waitForResult: (queue: string | string[], id: string, timeoutMs: number) =>
      inner.waitForResult(
        (Array.isArray(queue) ? queue : [queue]).flatMap((q) => shards.all(q)),
        id,
        timeoutMs,
      ),
    forget: async (queue: string, id: string) => {
      await Promise.all(shards.all(queue).map((s) => inner.forget(s, id)));
    },
    counts: async (queue: string): Promise<QueueCounts> => {
      if (!sharded(queue)) return inner.counts(queue);
      const parts = await Promise.all(shards.all(queue).map((s) => inner.counts(s)));
      return parts.reduce((a, b) => ({
        ready: a.ready + b.ready,
        delayed: a.delayed + b.delayed,
        reserved: a.reserved + b.reserved,
        dead: a.dead + b.dead,
        rejected: a.rejected + b.rejected,
      }));
    },
    listDead: (queue: string, start = 0, count = 100) =>
      mergeParked((q, s, c) => inner.listDead(q, s, c), queue, start, count),
    listRejected: (queue: string, start = 0, count = 100) =>
      mergeParked((q, s, c) => inner.listRejected(q, s, c), queue, start, count),
    listQueues: async () => [...new Set((await inner.listQueues()).map((q) => shards.logical(q)))].sort(),
    purge: async (queue: string) => {
      await Promise.all(shards.all(queue).map((s) => inner.purge(s)));
    },
  };

  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop as keyof Transport];
      const value = Reflect.get(target, prop, receiver === undefined ? target : target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
