import type { RedisOptions } from 'ioredis';
import { NotReplicatedError } from '../../errors/index.js';
import { READY_STATES, type ResultRecord } from '../../protocol/index.js';
import type {
  ChordJoinOutcome,
  ChordSpec,
  DroppedItem,
  ParkedEntry,
  PublishItem,
  PublishOnce,
  QueueCounts,
  ReserveRequest,
  ReserveResult,
  ScheduledEntry,
  Skipped,
  StoredEvent,
  TerminalUpdate,
  Transport,
  WorkerInfo,
  ControlMessage,
  ControlReply,
  ClusterState,
} from '../transport.interface.js';
import {
  duplicateConnection,
  isCluster,
  openConnection,
  parseBrokerUrl,
  type BrokerSpec,
  type ConnectionFactory,
  type ConnectionRole,
  type RedisClient,
  type TaskQueueRedisOptions,
} from './connection.js';
import { RedisKeys } from './keys.js';
import { SCRIPTS, SCRIPTS_VERSION, type ScriptName } from './scripts/generated/scripts.js';

export interface RedisTransportOptions {
  /** redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel:// URL, used when no client or connection factory is given. */
  url?: string;
  /** An ioredis client (Redis or Cluster) to use; the transport then does not close it. */
  client?: RedisClient;
  /** Makes every connection the transport opens (it closes them). */
  connection?: ConnectionFactory;
  /** Extra ioredis options for connections the transport creates. */
  redisOptions?: TaskQueueRedisOptions;
  prefix: string;
  /** After each publish, wait until this many replicas have it (WAIT), for at most timeoutMs. */
  durability?: { replicas: number; timeoutMs: number };
  /** Cap of the dead-letter and rejected lists, per queue. */
  parkedCap?: number;
}

type Reply = [Array<string | number>, string[], number];
type ScriptFn = (base: string, ...args: Array<string | number>) => Promise<unknown>;

const DEFAULT_PARKED_CAP = 10_000;
/** How long the standing wake-up BLPOP blocks before it is renewed. */
const BLOCK_SECONDS = 30;
const MAX_TIMER_MS = 2_147_483_647;
/** How long a waitForResult whose subscription or read failed waits before it tries again. */
const RETRY_WAIT_MS = 250;
/** After a Cluster re-subscribes, when to look for results a second time. */
const RELOOK_AFTER_MS = 1000;

/**
 * A script for Redis Cluster: final records are announced by SPUBLISH on a
 * channel in the queue's slot (see includes/common.lua) rather than broadcast.
 */
function clusterScript(lua: string): string {
  const out = lua
    .replace(/^local K_DONE = .*$/m, "local K_DONE = base .. 'done:'")
    .replace("local PUBLISH = 'PUBLISH'", "local PUBLISH = 'SPUBLISH'");
  if (!out.includes("local PUBLISH = 'SPUBLISH'") || !out.includes("local K_DONE = base .. 'done:'"))
    throw new Error('RedisTransport: the scripts no longer carry the lines the Cluster variant replaces');
  return out;
}

interface WakeWait {
  keys: string[];
  conn: RedisClient;
  /** Set once the BLPOP took a wake token: the next waitForWork returns at once, so the token is not lost. */
  woke: boolean;
  /** Settles when the BLPOP returns or fails; never rejects. */
  done: Promise<void>;
}

/**
 * Redis broker and result store. All state transitions are single Lua scripts
 * (see scripts/*.lua); results are waited for through pub/sub, never by polling.
 */
export class RedisTransport implements Transport {
  readonly keys: RedisKeys;
  private readonly client: RedisClient;
  private readonly ownsClient: boolean;
  private readonly spec?: BrokerSpec;
  /** On Redis Cluster: no command spans two hash slots, and result announcements use sharded pub/sub. */
  readonly cluster: boolean;
  /** Standing wake-up waits by group of wake lists (one group on one server, one per queue on a Cluster). */
  private readonly wakeWaits = new Map<string, WakeWait>();
  /** The blocking connection of each group, kept across waits. */
  private readonly blockingConns = new Map<string, RedisClient>();
  private subscriber?: RedisClient;
  /** The connection of blocking event reads (opened on first use). */
  private eventsReader?: RedisClient;
  private readonly waiters = new Map<string, Set<(rec: ResultRecord | null) => void>>();
  /** Raw listeners of control and reply channels. */
  private readonly channelListeners = new Map<string, Set<(message: string) => void>>();
  /** Per waited channel: how to look the result up again (after a reconnect). */
  private readonly lookups = new Map<string, () => Promise<ResultRecord | null>>();
  private readonly parkedCap: number;
  private closed = false;

  constructor(private readonly options: RedisTransportOptions) {
    this.keys = new RedisKeys(options.prefix);
    this.parkedCap = options.parkedCap ?? DEFAULT_PARKED_CAP;
    if (!options.client && !options.connection)
      this.spec = parseBrokerUrl(options.url ?? 'redis://127.0.0.1:6379', 'url');
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = this.connect('main');
      this.ownsClient = true;
    }
    this.cluster = isCluster(this.client);
    for (const [name, def] of Object.entries(SCRIPTS)) {
      const command = this.commandName(name as ScriptName);
      if (!(command in this.client))
        this.client.defineCommand(command, {
          numberOfKeys: def.numberOfKeys,
          lua: this.cluster ? clusterScript(def.lua) : def.lua,
        });
    }
  }

  /** The main client (commands, scripts). */
  get redis(): RedisClient {
    return this.client;
  }

  private connect(role: ConnectionRole, extra: RedisOptions = {}): RedisClient {
    // The user's redis options come first (their connectionName too), what the role needs last.
    const opts: RedisOptions = {
      connectionName: this.options.redisOptions?.connectionName ?? `taskqueue:${role}`,
      ...extra,
    };
    const conn = this.options.connection
      ? this.options.connection(role)
      : this.options.client
        ? duplicateConnection(this.options.client, role, { ...this.options.redisOptions, ...opts })
        : openConnection(this.spec!, this.options.redisOptions, role, opts);
    // ioredis reconnects by itself; commands in flight fail and their callers
    // handle it. Without a listener each error would print "Unhandled error event".
    conn.on('error', (err: Error) => {
      this.lastError = err;
    });
    return conn;
  }

  /** The last connection error seen (health checks report it). */
  lastError?: Error;

  private commandName(name: ScriptName): string {
    return `tq_${name.replace(/-/g, '_')}_${SCRIPTS_VERSION}`;
  }

  private script(name: ScriptName): ScriptFn {
    return (this.client as unknown as Record<string, ScriptFn>)[this.commandName(name)].bind(this.client);
  }

  async publish(items: PublishItem[], options?: PublishOnce): Promise<Skipped> {
    const skipped: Skipped = new Map();
    if (items.length === 0) return skipped;
    const now = Date.now();
    const once = options?.onceTtlMs ?? 0;
    const byQueue = new Map<string, Array<string | number>>();
    for (const it of items) {
      let args = byQueue.get(it.queue);
      if (!args) byQueue.set(it.queue, (args = [now, once]));
      args.push(it.id, it.priority, it.dueAt !== undefined && it.dueAt > now ? it.dueAt : 0, it.raw);
    }
    const publish = this.commandName('publish');
    const note = (reply: unknown) => {
      const dupes = (reply as [number, string[]] | undefined)?.[1] ?? [];
      for (let i = 0; i < dupes.length; i += 2) skipped.set(dupes[i], dupes[i + 1]);
    };
    if (this.options.durability) {
      (await this.publishDurably(byQueue, items)).forEach(note);
      return skipped;
    }
    if (byQueue.size === 1) {
      const [[queue, args]] = byQueue;
      note(await this.script('publish')(this.keys.base(queue), ...args));
      return skipped;
    }
    if (this.cluster) {
      // A pipeline may not span hash slots on a Cluster: one call per queue, sent together.
      const replies = await Promise.all(
        [...byQueue].map(([queue, args]) => this.script('publish')(this.keys.base(queue), ...args)),
      );
      replies.forEach(note);
      return skipped;
    }
    const pipe = this.client.pipeline();
    for (const [queue, args] of byQueue)
      (pipe as unknown as Record<string, (...a: unknown[]) => void>)[publish](this.keys.base(queue), ...args);
    const results = await pipe.exec();
    for (const [err, reply] of results ?? []) {
      if (err) throw err;
      note(reply);
    }
    return skipped;
  }

  async releaseUnique(queue: string, key: string, id: string): Promise<void> {
    await this.script('unique-release')(this.keys.base(queue), key, id);
  }

  /**
   * Publishes, then WAITs for the replicas in the same pipeline, so the WAIT goes
   * to the master that took the write (one per queue on a Cluster).
   */
  private async publishDurably(byQueue: Map<string, Array<string | number>>, items: PublishItem[]): Promise<unknown[]> {
    const { replicas, timeoutMs } = this.options.durability!;
    const publish = this.commandName('publish');
    const groups = this.cluster ? [...byQueue].map((entry) => [entry]) : [[...byQueue]];
    const acked = await Promise.all(
      groups.map(async (group) => {
        const pipe = this.client.pipeline();
        for (const [queue, args] of group)
          (pipe as unknown as Record<string, (...a: unknown[]) => void>)[publish](this.keys.base(queue), ...args);
        pipe.wait(replicas, timeoutMs);
        const results = (await pipe.exec()) ?? [];
        for (const [err] of results) if (err) throw err;
        return {
          replies: results.slice(0, -1).map(([, reply]) => reply),
          acks: Number(results[results.length - 1][1]),
        };
      }),
    );
    const least = Math.min(...acked.map((a) => a.acks));
    if (least < replicas)
      throw new NotReplicatedError(
        items.map((it) => it.id),
        least,
        replicas,
        timeoutMs,
      );
    return acked.flatMap((a) => a.replies);
  }

  private reserveArgs(req: ReserveRequest, now: number): Array<string | number> {
    return [
      now,
      req.max,
      req.startCount,
      req.leaseMs,
      req.workerId,
      req.maxRedeliveries,
      req.resultTtlMs,
      this.parkedCap,
    ];
  }

  private parseReserve(reply: Reply): ReserveResult {
    const [flat, droppedFlat, next] = reply;
    const items = [];
    for (let i = 0; i < flat.length; i += 3)
      items.push({ id: String(flat[i]), raw: String(flat[i + 1]), redeliveries: Number(flat[i + 2]) });
    const dropped: DroppedItem[] = [];
    for (let i = 0; i < droppedFlat.length; i += 3)
      dropped.push({
        id: droppedFlat[i],
        raw: droppedFlat[i + 1],
        reason: droppedFlat[i + 2] as DroppedItem['reason'],
      });
    return { items, dropped, nextWakeAt: next === -1 ? null : Number(next) };
  }

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    const reply = (await this.script('reserve')(
      this.keys.base(req.queue),
      ...this.reserveArgs(req, Date.now()),
    )) as Reply;
    return this.parseReserve(reply);
  }

  async waitForWork(queues: string[], untilMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    // Long BLPOPs on the wake lists stay open across waits: they are how new work
    // wakes us. Due times are kept by a local timer instead of the BLPOP timeout,
    // which Redis only honours on its cron tick (100 ms at hz 10). One server
    // takes every wake list in one BLPOP; on a Cluster a multi-key BLPOP across
    // slots is a CROSSSLOT error, so there is one per queue, each on its own connection.
    const groups = new Map(this.wakeGroups(queues).map((keys) => [keys.join('\n'), keys]));
    for (const id of [...this.blockingConns.keys()]) if (!groups.has(id)) this.dropWait(id);
    let woke = false;
    for (const [id, keys] of groups) {
      const wait = this.wakeWaits.get(id);
      if (wait?.woke) {
        // It took a wake token while nobody was waiting: the work it announced is there now.
        this.wakeWaits.delete(id);
        woke = true;
      } else if (!wait) this.wakeWaits.set(id, this.standingWait(id, keys));
    }
    if (woke) return;
    const waits = [...this.wakeWaits.values()];
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        ...waits.map((w) => w.done),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, Math.min(untilMs - Date.now(), MAX_TIMER_MS)));
          onAbort = () => {
            // A blocking command cannot be cancelled: drop the connections; the next wait makes new ones.
            for (const id of [...this.blockingConns.keys()]) this.dropWait(id);
            resolve();
          };
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
    // The waits that returned have done their job; the others stay standing.
    for (const [id, w] of this.wakeWaits) if (w.woke) this.wakeWaits.delete(id);
  }

  /** The wake lists of `queues`, grouped so that no BLPOP spans two hash slots. */
  private wakeGroups(queues: string[]): string[][] {
    const keys = queues.map((q) => this.keys.wake(q));
    // Every key of a queue carries the tag {<queue>}: on a Cluster, one group per queue.
    return this.cluster ? keys.map((k) => [k]) : [keys];
  }

  private standingWait(id: string, keys: string[]): WakeWait {
    let conn = this.blockingConns.get(id);
    if (!conn) this.blockingConns.set(id, (conn = this.connect('blocking', { maxRetriesPerRequest: null })));
    const current = conn;
    const wait: WakeWait = {
      keys,
      conn: current,
      woke: false,
      done: current.blpop(...keys, BLOCK_SECONDS).then(
        (reply) => {
          if (reply) wait.woke = true;
          else if (this.wakeWaits.get(id) === wait) this.wakeWaits.delete(id); // timed out: renew on the next wait
        },
        async () => {
          // The connection broke (it was dropped, or Redis went away): start afresh on the next wait,
          // after a pause so that a Redis that refuses at once does not make the worker spin.
          if (this.blockingConns.get(id) !== current) return;
          this.dropWait(id);
          if (!this.closed) await new Promise((r) => setTimeout(r, 500));
        },
      ),
    };
    return wait;
  }

  private dropWait(id: string): void {
    this.wakeWaits.delete(id);
    const conn = this.blockingConns.get(id);
    this.blockingConns.delete(id);
    conn?.disconnect();
  }

  async renew(queue: string, ids: string[], leaseMs: number): Promise<string[]> {
    if (ids.length === 0) return [];
    return (await this.script('renew')(this.keys.base(queue), Date.now() + leaseMs, ...ids)) as string[];
  }

  async setState(queue: string, record: ResultRecord, resultTtlMs: number): Promise<void> {
    await this.client.set(this.keys.result(queue, record.id), JSON.stringify(record), 'PX', resultTtlMs);
  }

  async ack(update: TerminalUpdate | TerminalUpdate[], next?: ReserveRequest): Promise<ReserveResult | undefined> {
    const updates = Array.isArray(update) ? update : [update];
    const queue = updates[0]?.queue ?? next?.queue;
    if (queue === undefined) return undefined;
    if (updates.some((u) => u.queue !== queue)) {
      // One call per queue (each queue is its own hash slot).
      const byQueue = new Map<string, TerminalUpdate[]>();
      for (const u of updates) byQueue.set(u.queue, [...(byQueue.get(u.queue) ?? []), u]);
      let res: ReserveResult | undefined;
      for (const [q, list] of byQueue) res = (await this.ack(list, next?.queue === q ? next : undefined)) ?? res;
      if (next && !byQueue.has(next.queue)) res = await this.reserve(next);
      return res;
    }
    if (next && next.queue !== queue) {
      // The ack script can only reserve from the acked messages' queue (one hash slot).
      await this.ack(updates);
      return this.reserve(next);
    }
    const now = Date.now();
    const args: Array<string | number> = [updates.length];
    for (const u of updates) args.push(u.id, u.record ? JSON.stringify(u.record) : '', u.resultTtlMs);
    args.push(now, ...(next ? this.reserveArgs(next, now).slice(1) : [0, 0, 0, '', 0, 0, 0]));
    const reply = await this.script('ack')(this.keys.base(queue), ...args);
    return next && reply ? this.parseReserve(reply as Reply) : undefined;
  }

  async retry(
    update: TerminalUpdate & { record: ResultRecord },
    raw: string,
    priority: number,
    dueAt: number,
  ): Promise<void> {
    await this.script('retry')(
      this.keys.base(update.queue),
      update.id,
      JSON.stringify(update.record),
      update.resultTtlMs,
      raw,
      priority,
      dueAt,
      Date.now(),
    );
  }

  async fail(update: TerminalUpdate & { record: ResultRecord }, raw: string): Promise<void> {
    const entry: ParkedEntry = { id: update.id, raw, reason: 'failed', at: Date.now(), error: update.record.error };
    await this.script('fail')(
      this.keys.base(update.queue),
      update.id,
      JSON.stringify(update.record),
      update.resultTtlMs,
      JSON.stringify(entry),
      this.parkedCap,
    );
  }

  async reject(queue: string, id: string, raw: string, reason: string): Promise<void> {
    const entry: ParkedEntry = { id, raw, reason, at: Date.now() };
    await this.script('reject')(this.keys.base(queue), id, JSON.stringify(entry), this.parkedCap);
  }

  async release(queue: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.script('release')(this.keys.base(queue), ...ids);
  }

  async revoke(queue: string, id: string, record: ResultRecord, resultTtlMs: number): Promise<void> {
    await this.script('revoke')(this.keys.base(queue), id, JSON.stringify(record), resultTtlMs, Date.now());
  }

  async chordCreate(c: ChordSpec, options?: PublishOnce): Promise<void> {
    await this.script('chord-create')(
      this.keys.base(c.queue),
      c.id,
      c.size,
      c.bodyId,
      c.bodyPriority,
      c.insert ? '1' : '0',
      c.bodyHead,
      c.bodyTail,
      c.ttlMs,
      options?.onceTtlMs ?? 0,
    );
  }

  async chordJoin(queue: string, id: string, index: number, resultJson: string): Promise<ChordJoinOutcome> {
    return (await this.script('chord-join')(this.keys.base(queue), id, index, resultJson)) as ChordJoinOutcome;
  }

  async chordFail(queue: string, id: string, record: ResultRecord, resultTtlMs: number): Promise<string | null> {
    const { id: _ignored, ...rest } = record;
    const json = JSON.stringify(rest);
    const reply = await this.script('chord-fail')(this.keys.base(queue), id, json.slice(1), resultTtlMs);
    return typeof reply === 'string' ? reply : null;
  }

  async reserveRateSlot(task: string, limit: number, intervalMs: number): Promise<number> {
    return Number(await this.script('rate')(this.keys.rate(task), intervalMs / limit));
  }

  async getResult(queue: string, id: string): Promise<ResultRecord | null> {
    const raw = await this.client.get(this.keys.result(queue, id));
    return raw ? (JSON.parse(raw) as ResultRecord) : null;
  }

  async findResult(queues: string[], id: string): Promise<{ queue: string; record: ResultRecord } | null> {
    if (queues.length === 0) return null;
    if (queues.length === 1) {
      const record = await this.getResult(queues[0], id);
      return record ? { queue: queues[0], record } : null;
    }
    let replies: Array<[Error | null, unknown]>;
    if (this.cluster) {
      // Each queue's result key is in that queue's slot: one GET each, sent together.
      replies = await Promise.all(
        queues.map((q) =>
          this.client.get(this.keys.result(q, id)).then(
            (v): [null, unknown] => [null, v],
            (err: Error): [Error, unknown] => [err, null],
          ),
        ),
      );
    } else {
      const pipe = this.client.pipeline();
      for (const q of queues) pipe.get(this.keys.result(q, id));
      replies = (await pipe.exec()) ?? [];
    }
    for (let i = 0; i < replies.length; i++) {
      const [err, raw] = replies[i];
      if (err) throw err;
      if (raw) return { queue: queues[i], record: JSON.parse(raw as string) as ResultRecord };
    }
    return null;
  }

  async waitForResult(queue: string | string[], id: string, timeoutMs: number): Promise<ResultRecord | null> {
    const queues = Array.isArray(queue) ? queue : [queue];
    // One server: one channel whatever the queue. A Cluster: a sharded channel in each candidate queue's slot.
    const channels = this.cluster ? queues.map((q) => this.keys.doneIn(q, id)) : [this.keys.done(id)];
    const sub = this.ensureSubscriber();
    const look = async () => {
      const found = await this.findResult(queues, id);
      return found && READY_STATES.has(found.record.state) ? found.record : null;
    };
    return new Promise<ResultRecord | null>((resolve, reject) => {
      let settled = false;
      const finish = (rec: ResultRecord | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const channel of channels) this.removeWaiter(channel, onRecord);
        resolve(rec);
      };
      const onRecord = (rec: ResultRecord | null) => finish(rec);
      const timer = setTimeout(() => finish(null), timeoutMs);
      const subscribed = new Set<string>();
      for (const channel of channels) {
        let set = this.waiters.get(channel);
        if (!set) this.waiters.set(channel, (set = new Set()));
        else subscribed.add(channel); // another waiter subscribed it already
        set.add(onRecord);
        this.lookups.set(channel, look);
      }
      // Subscribe, then read (so a result stored in between is not missed). While
      // the broker is away (a failover), try again until the timeout: a waiting
      // get() outlives a promotion instead of failing with a connection error.
      const attempt = async (): Promise<void> => {
        try {
          for (const channel of channels) {
            if (subscribed.has(channel)) continue;
            await (this.cluster ? sub.ssubscribe(channel) : sub.subscribe(channel));
            subscribed.add(channel);
          }
          const rec = await look();
          if (rec) finish(rec);
        } catch (err) {
          if (settled) return;
          if (this.closed) {
            settled = true;
            clearTimeout(timer);
            for (const channel of channels) this.removeWaiter(channel, onRecord);
            reject(err);
            return;
          }
          setTimeout(() => {
            if (!settled) void attempt();
          }, RETRY_WAIT_MS).unref();
        }
      };
      void attempt();
    });
  }

  private ensureSubscriber(): RedisClient {
    if (this.subscriber) return this.subscriber;
    // No ready check: its INFO would fail once the first SUBSCRIBE has put the
    // connection in subscriber mode, which ioredis may do before the handshake ends.
    const sub = this.connect('subscriber', { maxRetriesPerRequest: null, enableReadyCheck: false });
    const onMessage = (channel: string, message: string) => {
      const listeners = this.channelListeners.get(channel);
      if (listeners) for (const fn of [...listeners]) fn(message);
      const set = this.waiters.get(channel);
      if (!set) return;
      let rec: ResultRecord;
      try {
        rec = JSON.parse(message) as ResultRecord;
      } catch {
        return;
      }
      for (const fn of [...set]) fn(rec);
    };
    sub.on('message', onMessage);
    // Sharded pub/sub (a Cluster's result announcements).
    sub.on('smessage', onMessage);
    // Messages published while disconnected are lost: look again after every reconnect.
    const lookAgain = () => {
      for (const [channel, look] of this.lookups) {
        look()
          .then((rec) => {
            if (rec) for (const fn of [...(this.waiters.get(channel) ?? [])]) fn(rec);
          })
          .catch(() => undefined);
      }
    };
    let connectedOnce = false;
    sub.on('ready', () => {
      if (!connectedOnce) {
        connectedOnce = true;
        return;
      }
      lookAgain();
    });
    // A Cluster's sharded subscriptions move to the new master of a slot after a
    // failover; ioredis re-sends them without waiting for the replies, so look once
    // when it says they are back, and once more when they have surely landed.
    sub.on('subscribersReady', () => {
      lookAgain();
      setTimeout(() => {
        if (!this.closed) lookAgain();
      }, RELOOK_AFTER_MS).unref();
    });
    this.subscriber = sub;
    return sub;
  }

  private removeWaiter(channel: string, fn: (rec: ResultRecord | null) => void): void {
    const set = this.waiters.get(channel);
    if (!set) return;
    set.delete(fn);
    if (set.size === 0) {
      this.waiters.delete(channel);
      this.lookups.delete(channel);
      if (!this.closed)
        (this.cluster ? this.subscriber?.sunsubscribe(channel) : this.subscriber?.unsubscribe(channel))?.catch(
          () => undefined,
        );
    }
  }

  async forget(queue: string, id: string): Promise<void> {
    await this.client.del(this.keys.result(queue, id));
  }

  async counts(queue: string): Promise<QueueCounts> {
    const pipe = this.client.pipeline();
    for (let p = 0; p <= 9; p++) pipe.llen(this.keys.ready(queue, p));
    pipe
      .zcard(this.keys.delayed(queue))
      .hlen(this.keys.active(queue))
      .llen(this.keys.dead(queue))
      .llen(this.keys.rejected(queue));
    const res = (await pipe.exec()) ?? [];
    const n = res.map(([err, v]) => {
      if (err) throw err;
      return Number(v);
    });
    return {
      ready: n.slice(0, 10).reduce((a, b) => a + b, 0),
      delayed: n[10],
      reserved: n[11],
      dead: n[12],
      rejected: n[13],
    };
  }

  private async listParked(key: string, start: number, count: number): Promise<ParkedEntry[]> {
    const rows = await this.client.lrange(key, start, start + count - 1);
    return rows.map((r) => JSON.parse(r) as ParkedEntry);
  }

  async listScheduled(queue: string, start = 0, count = 100): Promise<ScheduledEntry[]> {
    const flat = await this.client.zrange(this.keys.delayed(queue), start, start + count - 1, 'WITHSCORES');
    const ids = flat.filter((_, i) => i % 2 === 0);
    if (ids.length === 0) return [];
    const raws = await this.client.hmget(this.keys.delayedMessages(queue), ...ids);
    return ids.flatMap((id, i) => (raws[i] ? [{ id, dueAt: Number(flat[2 * i + 1]), raw: raws[i]! }] : []));
  }

  listDead(queue: string, start = 0, count = 100): Promise<ParkedEntry[]> {
    return this.listParked(this.keys.dead(queue), start, count);
  }

  listRejected(queue: string, start = 0, count = 100): Promise<ParkedEntry[]> {
    return this.listParked(this.keys.rejected(queue), start, count);
  }

  async listQueues(): Promise<string[]> {
    const names = new Set<string>();
    const pattern = `${this.options.prefix.replace(/[{}[\]*?\\]/g, '\\$&')}:{*}:*`;
    const start = this.options.prefix.length + 2;
    await this.scan(pattern, (keys) => {
      for (const k of keys) {
        const end = k.indexOf('}:', start);
        if (end > start) names.add(k.slice(start, end));
      }
    });
    // '<queue>@<n>' is shard n of a queue (queues: { <queue>: { shards } }); '@' is in no queue's name.
    const logical = [...names].filter((q) => !q.startsWith('@')).map((q) => q.replace(/@\d+$/, ''));
    return [...new Set(logical)].sort();
  }

  async purge(queue: string): Promise<void> {
    // Every key of the queue is in its slot, so one DEL may take a whole batch, on a Cluster too.
    await this.scan(`${this.keys.base(queue).replace(/[{}[\]*?\\]/g, '\\$&')}*`, async (keys) => {
      if (keys.length) await this.client.del(...keys);
    });
  }

  /** SCANs every master (one on a single server) for `pattern`, a batch at a time. */
  private async scan(pattern: string, each: (keys: string[]) => unknown): Promise<void> {
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        await each(keys);
      } while (cursor !== '0');
    }
  }

  async workerHeartbeat(info: WorkerInfo, ttlMs: number): Promise<void> {
    await this.client.hset(this.keys.workers(), info.id, JSON.stringify({ ...info, expiresAt: info.at + ttlMs }));
  }

  async workerGone(id: string): Promise<void> {
    await this.client.hdel(this.keys.workers(), id);
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    const all = await this.client.hgetall(this.keys.workers());
    const now = Date.now();
    const live: WorkerInfo[] = [];
    const stale: string[] = [];
    for (const [id, json] of Object.entries(all)) {
      const { expiresAt, ...info } = JSON.parse(json) as WorkerInfo & { expiresAt: number };
      if (expiresAt > now) live.push(info);
      else stale.push(id);
    }
    if (stale.length) await this.client.hdel(this.keys.workers(), ...stale);
    return live.sort((a, b) => b.at - a.at);
  }

  private async listen(channel: string, fn: (message: string) => void): Promise<() => Promise<void>> {
    const sub = this.ensureSubscriber();
    let set = this.channelListeners.get(channel);
    const first = !set;
    if (!set) this.channelListeners.set(channel, (set = new Set()));
    set.add(fn);
    if (first) await sub.subscribe(channel);
    return async () => {
      const current = this.channelListeners.get(channel);
      if (!current) return;
      current.delete(fn);
      if (current.size === 0) {
        this.channelListeners.delete(channel);
        if (!this.closed) await sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  async control(message: ControlMessage, timeoutMs: number): Promise<ControlReply[]> {
    const replies: ControlReply[] = [];
    // with a destination, the wait ends as soon as every worker named has answered
    let allIn: () => void = () => undefined;
    const stop = message.reply
      ? await this.listen(this.keys.reply(message.id), (raw) => {
          try {
            replies.push(JSON.parse(raw) as ControlReply);
          } catch {
            // not a reply of ours
          }
          if (message.destination && replies.length >= message.destination.length) allIn();
        })
      : undefined;
    try {
      await this.client.publish(this.keys.control(), JSON.stringify(message));
      if (stop)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          allIn = () => {
            clearTimeout(timer);
            resolve();
          };
          if (message.destination && replies.length >= message.destination.length) allIn();
        });
    } finally {
      await stop?.();
    }
    return replies;
  }

  async onControl(
    handler: (message: ControlMessage) => Promise<ControlReply | undefined>,
  ): Promise<() => Promise<void>> {
    return this.listen(this.keys.control(), (raw) => {
      let message: ControlMessage;
      try {
        message = JSON.parse(raw) as ControlMessage;
      } catch {
        return;
      }
      handler(message)
        .then((reply) => {
          if (reply && message.reply) return this.client.publish(this.keys.reply(message.id), JSON.stringify(reply));
          return undefined;
        })
        .catch(() => undefined);
    });
  }

  async ping(): Promise<number> {
    const t0 = performance.now();
    await this.client.ping();
    return performance.now() - t0;
  }

  async appendEvents(events: string[], maxLength: number): Promise<void> {
    // one script call per 1000 events: one command for the client to encode, not one per event
    for (let i = 0; i < events.length; i += 1000)
      await this.script('events')(this.keys.events(), maxLength, ...events.slice(i, i + 1000));
  }

  async readEvents(from: string, count: number, blockMs?: number): Promise<{ events: StoredEvent[]; cursor: string }> {
    const key = this.keys.events();
    if (from === '$') {
      const [last] = (await this.client.xrevrange(key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
      from = last?.[0] ?? '0-0';
    }
    let reply: Array<[string, Array<[string, string[]]>]> | null;
    if (blockMs !== undefined && blockMs > 0) {
      // a blocking read has a connection of its own, so it never holds up commands
      this.eventsReader ??= this.connect('blocking');
      reply = (await this.eventsReader.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, from)) as typeof reply;
    } else {
      reply = (await this.client.xread('COUNT', count, 'STREAMS', key, from)) as typeof reply;
    }
    const events = (reply?.[0]?.[1] ?? []).map(([cursor, fields]) => ({ cursor, json: fields[1] }));
    return { events, cursor: events.length ? events[events.length - 1].cursor : from };
  }

  /** On a Cluster: what CLUSTER INFO says on one of its masters. Undefined on one server. */
  async clusterState(): Promise<ClusterState | undefined> {
    if (!isCluster(this.client)) return undefined;
    const masters = this.client.nodes('master');
    const node = masters[Math.floor(Math.random() * masters.length)] ?? this.client;
    const text = String(await node.call('CLUSTER', 'INFO'));
    const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(text)?.[1] ?? '';
    const state = field('cluster_state');
    return {
      ok: state === 'ok',
      state,
      slotsOk: Number(field('cluster_slots_ok')),
      masters: Number(field('cluster_size')),
      knownNodes: Number(field('cluster_known_nodes')),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.eventsReader?.disconnect();
    // End every wait for a result (null, as on timeout) before the subscriber goes.
    for (const set of [...this.waiters.values()]) for (const fn of [...set]) fn(null);
    for (const id of [...this.blockingConns.keys()]) this.dropWait(id);
    this.subscriber?.disconnect();
    this.subscriber = undefined;
    if (this.ownsClient) {
      // quit() would wait through ioredis's reconnect attempts when Redis is down.
      if (this.client.status !== 'ready') this.client.disconnect();
      else {
        try {
          await this.client.quit();
        } catch {
          this.client.disconnect();
        }
      }
    }
  }

  async parked(
    op: 'replay' | 'delete',
    queue: string,
    kind: 'dead' | 'rejected',
    ids: string[] | 'all',
  ): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0;
    const args = ids === 'all' ? [op, kind, 'all'] : [op, kind, 'ids', ...ids];
    return Number(await this.script('parked')(this.keys.base(queue), ...args));
  }
}
