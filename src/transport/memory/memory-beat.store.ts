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
import type { MemoryTransport } from './memory.transport.js';

interface Entry {
  queue: string;
  /** The definition as JSON (compared on upsert, copied out on read, as Redis does). */
  def: string;
  spec: string;
  since: number;
  paused: boolean;
  rev: string;
  last: number | null;
  lastId: string | null;
}

interface BeatState {
  schedules: Map<string, Entry>;
  leader: { id: string; until: number } | null;
  heartbeat: { json: string; until: number } | null;
  beats: Map<string, { json: string; until: number }>;
  /** Counter of schedule changes, as the Redis store's. */
  version: number;
}

/**
 * In-process store of schedules and beats, one per `MemoryTransport` (so every
 * module of a process that names the same `memory://` broker sees the same
 * schedules). Each method does its whole change synchronously, so a claim
 * (record the tick, publish through the transport) is atomic, as in Redis.
 * Lease and heartbeat expiry follow the wall clock.
 * @publicApi
 */
export class MemoryBeatStore implements BeatStore {
  private static readonly states = new WeakMap<MemoryTransport, BeatState>();

  /** The store that goes with `transport` (the same for the same transport). */
  static for(transport: MemoryTransport): MemoryBeatStore {
    return new MemoryBeatStore(transport);
  }

  private readonly state: BeatState;

  constructor(private readonly transport: MemoryTransport) {
    let state = MemoryBeatStore.states.get(transport);
    if (!state) {
      state = { schedules: new Map(), leader: null, heartbeat: null, beats: new Map(), version: 0 };
      MemoryBeatStore.states.set(transport, state);
    }
    this.state = state;
  }

  private read(e: Entry): StoredSchedule {
    return {
      ...(JSON.parse(e.def) as ScheduleDefinition),
      since: e.since,
      paused: e.paused,
      rev: e.rev,
      lastRun: e.last,
      lastTaskId: e.lastId,
    };
  }

  async upsert(def: ScheduleDefinition, now: number, options: { paused?: boolean } = {}): Promise<StoredSchedule> {
    const json = JSON.stringify(definitionOf(def));
    const spec = timingKey(def);
    let e = this.state.schedules.get(def.name);
    if (e && e.queue !== def.queue) {
      // A move to another queue starts afresh, as the Redis store (state lives with the queue).
      this.state.schedules.delete(def.name);
      e = undefined;
    }
    if (!e) {
      e = {
        queue: def.queue,
        def: json,
        spec,
        since: now,
        paused: options.paused ?? false,
        rev: newRev(),
        last: null,
        lastId: null,
      };
      this.state.schedules.set(def.name, e);
      this.state.version++;
    } else if (e.def !== json || e.spec !== spec) {
      if (e.spec !== spec) e.since = now;
      e.def = json;
      e.spec = spec;
      e.rev = newRev();
      this.state.version++;
    }
    return this.read(e);
  }

  async get(name: string): Promise<StoredSchedule | null> {
    const e = this.state.schedules.get(name);
    return e ? this.read(e) : null;
  }

  async list(): Promise<StoredSchedule[]> {
    return [...this.state.schedules.keys()].sort().map((n) => this.read(this.state.schedules.get(n)!));
  }

  async setPaused(name: string, paused: boolean, now: number): Promise<StoredSchedule | null> {
    const e = this.state.schedules.get(name);
    if (!e) return null;
    if (e.paused !== paused) {
      if (!paused) e.since = now;
      e.paused = paused;
      e.rev = newRev();
      this.state.version++;
    }
    return this.read(e);
  }

  async remove(name: string): Promise<boolean> {
    const removed = this.state.schedules.delete(name);
    if (removed) this.state.version++;
    return removed;
  }

  async claim(
    schedule: Pick<StoredSchedule, 'name' | 'queue' | 'rev'>,
    tick: number,
    item: PublishItem,
  ): Promise<ClaimOutcome> {
    if (item.queue !== schedule.queue)
      throw new Error(
        `MemoryBeatStore.claim: the message goes to queue "${item.queue}", the schedule "${schedule.name}" to "${schedule.queue}"`,
      );
    const e = this.state.schedules.get(schedule.name);
    if (!e || e.queue !== schedule.queue) return 'gone'; // removed, or moved to another queue (as in Redis: its state lives with the queue)
    if (e.rev !== schedule.rev) return 'stale';
    if (e.paused) return 'paused';
    if (tick <= e.since || (e.last !== null && tick <= e.last)) return 'duplicate';
    e.last = tick;
    e.lastId = item.id;
    // The transport's publish makes its whole change before its first await: atomic with the lines above.
    await this.transport.publish([item]);
    return 'published';
  }

  async lease(heartbeat: BeatHeartbeat, leaseMs: number, campaign: boolean): Promise<LeaseResult> {
    const now = Date.now();
    const ttl = heartbeatTtlMs(leaseMs);
    const s = this.state;
    if (s.leader && s.leader.until <= now) s.leader = null;
    let leader = false;
    if (campaign && (!s.leader || s.leader.id === heartbeat.id)) {
      s.leader = { id: heartbeat.id, until: now + leaseMs };
      leader = true;
    }
    const json = JSON.stringify(heartbeat);
    if (leader || !campaign) s.heartbeat = { json, until: now + ttl };
    s.beats.set(heartbeat.id, { json, until: now + ttl });
    for (const [id, b] of s.beats) if (b.until <= now) s.beats.delete(id);
    return { leader, leaderId: s.leader?.id ?? null, version: s.version };
  }

  async release(id: string): Promise<void> {
    const s = this.state;
    if (s.leader?.id === id) {
      s.leader = null;
      s.heartbeat = null;
    }
    s.beats.delete(id);
  }

  async leaderHeartbeat(): Promise<BeatHeartbeat | null> {
    const hb = this.state.heartbeat;
    return hb && hb.until > Date.now() ? (JSON.parse(hb.json) as BeatHeartbeat) : null;
  }

  async beats(): Promise<BeatHeartbeat[]> {
    const now = Date.now();
    return [...this.state.beats.values()]
      .filter((b) => b.until > now)
      .map((b) => JSON.parse(b.json) as BeatHeartbeat)
      .sort((a, b) => b.at - a.at);
  }
}
