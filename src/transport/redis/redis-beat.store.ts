import type {
  BeatHeartbeat,
  BeatStore,
  ClaimOutcome,
  LeaseResult,
  ScheduleDefinition,
  StoredSchedule,
} from '../beat-store.interface.js';
import { definitionOf, heartbeatTtlMs, newRev, timingKey } from '../beat-store.util.js';
import type { PublishItem } from '../transport.interface.js';
import { isCluster, type RedisClient } from './connection.js';
import type { RedisKeys } from './keys.js';
import { SCRIPTS, SCRIPTS_VERSION } from './scripts/generated/scripts.js';

/**
 * Key names of the beat, next to the queue keys of RedisKeys:
 * - per schedule, a HASH in the slot of the queue its runs go to
 *   (`<prefix>:{<queue>}:beat:<name>`: def, spec, since, paused, rev, last, lastId),
 *   so `claim` records the tick and pushes the message in one script;
 * - beat-wide keys under their own hash tag `{@beat}` ('@' is not allowed in
 *   queue names, so no queue shares them): the index of schedules (name → queue),
 *   the change counter, the leader lease and the heartbeats.
 */
export class RedisBeatKeys {
  constructor(private readonly keys: RedisKeys) {}

  /** KEYS[1] of the lease script. */
  base(): string {
    return `${this.keys.prefix}:{@beat}:`;
  }

  index(): string {
    return `${this.base()}index`;
  }

  version(): string {
    return `${this.base()}version`;
  }

  leader(): string {
    return `${this.base()}leader`;
  }

  heartbeat(): string {
    return `${this.base()}heartbeat`;
  }

  beats(): string {
    return `${this.base()}beats`;
  }

  /** KEYS[1] of the schedule scripts: the queue's key base. */
  queueBase(queue: string): string {
    return this.keys.base(queue);
  }

  schedule(queue: string, name: string): string {
    return `${this.keys.base(queue)}beat:${name}`;
  }
}

type BeatScript = 'beat-upsert' | 'beat-pause' | 'beat-claim' | 'beat-lease';
type ScriptFn = (base: string, ...args: Array<string | number>) => Promise<unknown>;

/**
 * Redis store of schedules and beats. Every transition is one Lua script
 * (scripts/beat-*.lua); the claim of a tick publishes its message in the same
 * script, with the queue's own publish semantics (ready list of the priority, wake token).
 */
export class RedisBeatStore implements BeatStore {
  readonly keys: RedisBeatKeys;

  /** `client` is the transport's main client (not closed here); `keys` its key builder. */
  constructor(
    private readonly client: RedisClient,
    keys: RedisKeys,
  ) {
    this.keys = new RedisBeatKeys(keys);
    for (const name of ['beat-upsert', 'beat-pause', 'beat-claim', 'beat-lease'] as const) {
      const command = this.commandName(name);
      if (!(command in this.client))
        this.client.defineCommand(command, { numberOfKeys: SCRIPTS[name].numberOfKeys, lua: SCRIPTS[name].lua });
    }
  }

  private commandName(name: BeatScript): string {
    // Same naming as RedisTransport, so a client shared with it defines each script once.
    return `tq_${name.replace(/-/g, '_')}_${SCRIPTS_VERSION}`;
  }

  private script(name: BeatScript): ScriptFn {
    return (this.client as unknown as Record<string, ScriptFn>)[this.commandName(name)].bind(this.client);
  }

  async upsert(def: ScheduleDefinition, now: number, options: { paused?: boolean } = {}): Promise<StoredSchedule> {
    const oldQueue = await this.client.hget(this.keys.index(), def.name);
    if (oldQueue !== null && oldQueue !== def.queue) await this.client.del(this.keys.schedule(oldQueue, def.name));
    const json = JSON.stringify(definitionOf(def));
    const reply = (await this.script('beat-upsert')(
      this.keys.queueBase(def.queue),
      def.name,
      json,
      timingKey(def),
      now,
      options.paused ? '1' : '0',
      newRev(),
    )) as Array<string | number | null>;
    const [changed, rev, since, paused, last, lastId] = reply;
    if (Number(changed) === 1 || oldQueue !== def.queue) {
      await this.client.multi().hset(this.keys.index(), def.name, def.queue).incr(this.keys.version()).exec();
    }
    return {
      ...definitionOf(def),
      rev: String(rev),
      since: Number(since),
      paused: paused === '1',
      lastRun: last === null || last === undefined ? null : Number(last),
      lastTaskId: lastId === null || lastId === undefined ? null : String(lastId),
    };
  }

  async get(name: string): Promise<StoredSchedule | null> {
    const queue = await this.client.hget(this.keys.index(), name);
    if (queue === null) return null;
    return parseStored(await this.client.hgetall(this.keys.schedule(queue, name)));
  }

  async list(): Promise<StoredSchedule[]> {
    const index = await this.client.hgetall(this.keys.index());
    const names = Object.keys(index).sort();
    if (names.length === 0) return [];
    let replies: Array<[Error | null, unknown]>;
    if (isCluster(this.client)) {
      // Each schedule lives in its queue's slot, and a Cluster pipeline may not span slots.
      const client = this.client;
      replies = await Promise.all(
        names.map((name): Promise<[null, unknown]> =>
          client.hgetall(this.keys.schedule(index[name], name)).then((h) => [null, h]),
        ),
      );
    } else {
      const pipe = this.client.pipeline();
      for (const name of names) pipe.hgetall(this.keys.schedule(index[name], name));
      replies = (await pipe.exec()) ?? [];
    }
    const out: StoredSchedule[] = [];
    for (const [err, hash] of replies) {
      if (err) throw err;
      const s = parseStored(hash as Record<string, string>);
      if (s) out.push(s);
    }
    return out;
  }

  async setPaused(name: string, paused: boolean, now: number): Promise<StoredSchedule | null> {
    const queue = await this.client.hget(this.keys.index(), name);
    if (queue === null) return null;
    const r = Number(
      await this.script('beat-pause')(this.keys.queueBase(queue), name, paused ? '1' : '0', now, newRev()),
    );
    if (r === 0) return null;
    if (r === 2) await this.client.incr(this.keys.version());
    return this.get(name);
  }

  async remove(name: string): Promise<boolean> {
    const queue = await this.client.hget(this.keys.index(), name);
    if (queue === null) return false;
    // Index first: a beat that loads in between sees nothing rather than a half-removed schedule.
    await this.client.multi().hdel(this.keys.index(), name).incr(this.keys.version()).exec();
    await this.client.del(this.keys.schedule(queue, name));
    return true;
  }

  async claim(
    schedule: Pick<StoredSchedule, 'name' | 'queue' | 'rev'>,
    tick: number,
    item: PublishItem,
  ): Promise<ClaimOutcome> {
    if (item.queue !== schedule.queue)
      throw new Error(
        `RedisBeatStore.claim: the message goes to queue "${item.queue}", the schedule "${schedule.name}" to "${schedule.queue}"`,
      );
    return (await this.script('beat-claim')(
      this.keys.queueBase(schedule.queue),
      schedule.name,
      schedule.rev,
      tick,
      item.id,
      item.priority,
      item.raw,
    )) as ClaimOutcome;
  }

  async lease(heartbeat: BeatHeartbeat, leaseMs: number, campaign: boolean): Promise<LeaseResult> {
    const [leader, leaderId, version] = (await this.script('beat-lease')(
      this.keys.base(),
      'lease',
      heartbeat.id,
      Math.max(1, Math.round(leaseMs)),
      heartbeat.at,
      JSON.stringify(heartbeat),
      campaign ? '1' : '0',
      heartbeatTtlMs(leaseMs),
    )) as [number, string, number];
    return { leader: Number(leader) === 1, leaderId: leaderId || null, version: Number(version) };
  }

  async release(id: string): Promise<void> {
    await this.script('beat-lease')(this.keys.base(), 'release', id, 1, Date.now(), '', '0', 1);
  }

  async leaderHeartbeat(): Promise<BeatHeartbeat | null> {
    const raw = await this.client.get(this.keys.heartbeat());
    return raw ? (JSON.parse(raw) as BeatHeartbeat) : null;
  }

  async beats(): Promise<BeatHeartbeat[]> {
    const all = await this.client.hvals(this.keys.beats());
    return all.map((raw) => JSON.parse(raw) as BeatHeartbeat).sort((a, b) => b.at - a.at);
  }
}

function parseStored(h: Record<string, string>): StoredSchedule | null {
  if (!h || h.def === undefined || h.rev === undefined) return null;
  const def = JSON.parse(h.def) as ScheduleDefinition;
  return {
    ...def,
    since: Number(h.since),
    paused: h.paused === '1',
    rev: h.rev,
    lastRun: h.last === undefined ? null : Number(h.last),
    lastTaskId: h.lastId ?? null,
  };
}
